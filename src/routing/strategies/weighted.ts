import type { Target } from "../../catalog/model";
import type { Choice } from "./index";

/**
 * Smooth weighted round-robin (as nginx does it): deterministic and evenly interleaved, so any
 * run of total-weight requests matches the weights exactly (1/2/3 over 600 → 100/200/300).
 */
export function weighted({ candidates, registry }: Choice) {
  let total = 0;
  let best: Target = candidates[0]!;
  let bestWeight = -Infinity;
  for (const target of candidates) {
    const state = registry.target(target);
    state.smoothWeight += target.weight;
    total += target.weight;
    if (state.smoothWeight > bestWeight) {
      best = target;
      bestWeight = state.smoothWeight;
    }
  }
  registry.target(best).smoothWeight -= total;
  return best;
}
