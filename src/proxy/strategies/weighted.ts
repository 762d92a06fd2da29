import type { Target } from "../../model/model";
import type { Choice } from "./choice";

/**
 * Smooth weighted round-robin (as nginx does it): deterministic and evenly interleaved, so any
 * run of total-weight requests matches the weights exactly (1/2/3 over 600 → 100/200/300).
 */
export function weighted({ candidates, model }: Choice) {
  const weights = model.smoothWeights;
  let total = 0;
  let best: Target = candidates[0]!;
  let bestWeight = -Infinity;
  for (const target of candidates) {
    const weight = (weights.get(target.name) ?? 0) + target.weight;
    weights.set(target.name, weight);
    total += target.weight;
    if (weight > bestWeight) {
      best = target;
      bestWeight = weight;
    }
  }
  weights.set(best.name, bestWeight - total);
  return best;
}
