import type { Choice } from "./choice";

/** Each target in turn. */
export function roundRobin({ candidates, model }: Choice) {
  return candidates[model.turn++ % candidates.length]!;
}
