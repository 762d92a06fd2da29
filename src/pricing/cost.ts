// What a request cost, from the usage its backend reported and its target's price.
import type { Price } from "../model/price";
import type { Usage } from "../model/usage";

/**
 * US dollars: uncached prompt tokens at the input price, cached ones at the cached-input price (the
 * input price when there is none), completion tokens at the output price. The same usage always
 * costs the same, whether it was read from a stream or a whole body.
 */
export function costUsd(usage: Usage, price: Price): number {
  const cached = Math.min(usage.cachedPromptTokens ?? 0, usage.promptTokens);
  const uncached = usage.promptTokens - cached;
  const cachedPrice = price.cachedInputPerMTok ?? price.inputPerMTok;
  return (uncached * price.inputPerMTok + cached * cachedPrice + usage.completionTokens * price.outputPerMTok) / 1_000_000;
}
