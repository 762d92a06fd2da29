/** The soak's request mix: what each kind is and how often it is sent (weights sum to 100). */
export interface MixKind {
  readonly name: "chat" | "stream" | "aborted-stream" | "backend-500" | "backend-429" | "unknown-model" | "models" | "embeddings";
  readonly weight: number;
  readonly what: string;
}

export const MIX: readonly MixKind[] = [
  { name: "chat", weight: 33, what: "non-streamed chat completion, 200" },
  { name: "stream", weight: 25, what: "streamed chat completion (8 chunks + [DONE]), read to the end" },
  { name: "aborted-stream", weight: 10, what: "slow stream (40 chunks, 5 ms apart), client aborts after the first chunk" },
  { name: "backend-500", weight: 8, what: "backend answers 500 (streamed or not), passed through" },
  { name: "backend-429", weight: 8, what: "backend answers 429 with Retry-After, passed through" },
  { name: "unknown-model", weight: 6, what: "unknown model, 404 from the proxy" },
  { name: "models", weight: 5, what: "GET /v1/models" },
  { name: "embeddings", weight: 5, what: "passthrough POST /v1/embeddings" },
];
