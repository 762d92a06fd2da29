// What the mock sends and what every client must receive, shared by the mock backend, the stream
// client and the runner, so "byte-exact" is checked against the very bytes the mock wrote.

/** The model id clients ask for, and the name the proxy/floor must rewrite it to. */
export const CLIENT_MODEL = "bench-model";
/** The same backend behind a model with two targets (round-robin), for the routing row. */
export const TWO_TARGET_MODEL = "bench-model-2t";
export const BACKEND_MODEL = "mock-actual-model";
export const BACKEND_KEY = "sk-backend-bench";

/** A non-streamed chat.completion of about 600 bytes, rendered once. */
export const CHAT_REPLY = JSON.stringify({
  id: "chatcmpl-bench0000000000000000000000000",
  object: "chat.completion",
  created: 1735689600,
  model: BACKEND_MODEL,
  system_fingerprint: "fp_bench0001",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content:
          "The sea keeps its own time: it arrives, withdraws and returns, patient as breathing, " +
          "carrying salt and light and the long memory of storms to every shore it touches, " +
          "and it asks nothing of us but attention, and a little patience at the turning of the tide.",
        refusal: null,
      },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 27, completion_tokens: 48, total_tokens: 75 },
});

export const MODELS_REPLY = JSON.stringify({
  object: "list",
  data: [{ id: BACKEND_MODEL, object: "model", created: 1735689600, owned_by: "bench" }],
});

/** One SSE event of a streamed completion (~230 bytes, the size of a real delta chunk). */
export function sseChunk(nonce: string, index: number): string {
  const delta = index === 0 ? { role: "assistant", content: "" } : { content: ` token-${index}` };
  return `data: ${JSON.stringify({
    id: `chatcmpl-${nonce}`,
    object: "chat.completion.chunk",
    created: 1735689600,
    model: BACKEND_MODEL,
    system_fingerprint: "fp_bench0001",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
  })}\n\n`;
}

export const SSE_DONE = "data: [DONE]\n\n";

/** The exact bytes of a whole stream of `chunks` events for `nonce`. */
export function expectedStream(nonce: string, chunks: number): string {
  let text = "";
  for (let i = 0; i < chunks; i++) text += sseChunk(nonce, i);
  return text + SSE_DONE;
}

/** The body of a streamed request: unknown fields (bench_*) are forwarded untouched by a proxy. */
export function streamRequestBody(nonce: string, chunks: number, delayMs: number): string {
  return JSON.stringify({
    model: CLIENT_MODEL,
    messages: [{ role: "user", content: "Stream something." }],
    stream: true,
    bench_nonce: nonce,
    bench_chunks: chunks,
    bench_delay_ms: delayMs,
  });
}

// ---- Anthropic Messages (the translation rows): what the mock answers on POST /v1/messages ----

/** The model name the anthropic-provider variant sends to the mock. */
export const ANTHROPIC_BACKEND_MODEL = "claude-bench-4-5";

/** A non-streamed Messages `message` of about the size of CHAT_REPLY, rendered once. */
export const ANTHROPIC_REPLY = JSON.stringify({
  id: "msg_bench00000000000000000000",
  type: "message",
  role: "assistant",
  model: ANTHROPIC_BACKEND_MODEL,
  content: [
    {
      type: "text",
      text:
        "The sea keeps its own time: it arrives, withdraws and returns, patient as breathing, " +
        "carrying salt and light and the long memory of storms to every shore it touches, " +
        "and it asks nothing of us but attention, and a little patience at the turning of the tide.",
    },
  ],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 27, output_tokens: 48, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
});

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The events before the first text delta: message_start, content_block_start. */
export const ANTHROPIC_SSE_HEAD =
  sse("message_start", {
    type: "message_start",
    message: {
      id: "msg_bench00000000000000000000",
      type: "message",
      role: "assistant",
      model: ANTHROPIC_BACKEND_MODEL,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 27, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  }) + sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });

/** One text delta: ` token-<index>`. */
export function anthropicDelta(index: number): string {
  return sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: ` token-${index}` } });
}

/** The events after the last delta: content_block_stop, message_delta (stop_reason, usage), message_stop. */
export function anthropicTail(chunks: number): string {
  return (
    sse("content_block_stop", { type: "content_block_stop", index: 0 }) +
    sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: chunks } }) +
    sse("message_stop", { type: "message_stop" })
  );
}

/**
 * Whether a translated stream (Anthropic events turned into chat.completion chunks by the proxy)
 * came through whole: every text delta once, in order, then `data: [DONE]`.
 */
export function translatedStreamComplete(text: string, chunks: number): boolean {
  if (!text.endsWith(SSE_DONE)) return false;
  let at = 0;
  for (let i = 0; i < chunks; i++) {
    const next = text.indexOf(` token-${i}"`, at);
    if (next < 0) return false;
    at = next + 1;
  }
  return true;
}
