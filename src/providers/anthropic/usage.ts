// Anthropic's token counts in OpenAI's terms. Anthropic's `input_tokens` leaves out the prompt
// tokens read from or written to its cache; OpenAI's `prompt_tokens` counts every prompt token, and
// tells the cached ones apart in `prompt_tokens_details.cached_tokens`. OpenAI has no word for
// cache writes, which Anthropic bills above the input price: they keep Anthropic's name,
// `cache_creation_input_tokens`, beside the others (as LiteLLM reports them).
import { tokenUsage, type Usage } from "../../model/usage";
import type { MessagesUsage } from "./types";

/** OpenAI's `usage` object of a chat completion (or of the usage-only chunk of a stream). */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  /** Of the prompt tokens, those written to the cache; only when some were. */
  cache_creation_input_tokens?: number;
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0);

export function openAIUsage(usage: MessagesUsage): OpenAIUsage {
  const cached = count(usage.cache_read_input_tokens);
  const written = count(usage.cache_creation_input_tokens);
  const prompt = count(usage.input_tokens) + cached + written;
  const completion = count(usage.output_tokens);
  const openAI: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
  if (written > 0) openAI.cache_creation_input_tokens = written;
  return openAI;
}

/** The proxy's own record of the same numbers (usage rows, limits, metrics, cost). */
export function proxyUsage(usage: OpenAIUsage): Usage {
  return tokenUsage(
    usage.prompt_tokens,
    usage.completion_tokens,
    usage.total_tokens,
    usage.prompt_tokens_details.cached_tokens,
    usage.cache_creation_input_tokens,
  );
}

/**
 * Folds later counts into earlier ones: a stream's `message_delta` repeats the counts cumulatively,
 * and a field it leaves out (or sends as null) keeps the value `message_start` gave.
 */
export function mergeUsage(base: MessagesUsage, later: MessagesUsage | null | undefined): MessagesUsage {
  if (!later) return base;
  const merged: MessagesUsage = { ...base };
  for (const key of ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] as const) {
    const value = later[key];
    if (typeof value === "number") merged[key] = value;
  }
  return merged;
}
