// What a backend reported an answer cost, in tokens.

/** Token counts a backend reported for one request. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** Of the prompt tokens, those the backend read from its prompt cache (billed at the cached-input price); absent when it reported none. */
  readonly cachedPromptTokens?: number;
}

/** A Usage from its counts; `cachedPromptTokens` only when some prompt tokens were read from the cache. */
export function tokenUsage(promptTokens: number, completionTokens: number, totalTokens: number, cachedPromptTokens = 0): Usage {
  return cachedPromptTokens > 0 ? { promptTokens, completionTokens, totalTokens, cachedPromptTokens } : { promptTokens, completionTokens, totalTokens };
}
