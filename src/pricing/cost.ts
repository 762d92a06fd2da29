// What a request cost, from the usage its backend reported and its target's price.
import type { Price } from "../model/price";
import type { Usage } from "../model/usage";

/**
 * US dollars: prompt tokens read from the cache at the cached-input price, those written to it at
 * the cache-write price (each the input price when there is none), the other prompt tokens at the
 * input price, completion tokens at the output price. The same usage always costs the same, whether
 * it was read from a stream or a whole body.
 */
export function costUsd(usage: Usage, price: Price): number {
  const cached = Math.min(usage.cachedPromptTokens ?? 0, usage.promptTokens);
  const written = Math.min(usage.cacheWritePromptTokens ?? 0, usage.promptTokens - cached);
  const uncached = usage.promptTokens - cached - written;
  const cachedPrice = price.cachedInputPerMTok ?? price.inputPerMTok;
  const writePrice = price.cacheWriteInputPerMTok ?? price.inputPerMTok;
  return (uncached * price.inputPerMTok + cached * cachedPrice + written * writePrice + usage.completionTokens * price.outputPerMTok) / 1_000_000;
}
