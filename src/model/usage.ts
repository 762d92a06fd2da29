// What a backend reported an answer cost, in tokens.

/** Token counts a backend reported for one request. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** Of the prompt tokens, those the backend read from its prompt cache (billed at the cached-input price); absent when it reported none. */
  readonly cachedPromptTokens?: number;
  /** Of the prompt tokens, those the backend wrote to its prompt cache (Anthropic's `cache_creation_input_tokens`, billed at the cache-write price); absent when it reported none. */
  readonly cacheWritePromptTokens?: number;
}

/** A Usage from its counts; the cache counts only when some prompt tokens were read from, or written to, the cache. */
export function tokenUsage(promptTokens: number, completionTokens: number, totalTokens: number, cachedPromptTokens = 0, cacheWritePromptTokens = 0): Usage {
  const usage: { -readonly [K in keyof Usage]: Usage[K] } = { promptTokens, completionTokens, totalTokens };
  if (cachedPromptTokens > 0) usage.cachedPromptTokens = cachedPromptTokens;
  if (cacheWritePromptTokens > 0) usage.cacheWritePromptTokens = cacheWritePromptTokens;
  return usage;
}
