// What a backend reported an answer cost, in tokens.

/** Token counts a backend reported for one request. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** Of the prompt tokens, those the backend read from its prompt cache (billed at the cached-input price); absent when it reported none. */
  readonly cachedPromptTokens?: number;
}
