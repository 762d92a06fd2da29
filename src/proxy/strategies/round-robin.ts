import type { Choice } from "./index";

/** Each target in turn. */
export function roundRobin({ candidates, model }: Choice) {
  return candidates[model.turn++ % candidates.length]!;
}
