import type { Target } from "../../model/model";
import type { Choice } from "./index";

/** The target with the fewest requests in flight; ties go round the candidates in turn. */
export function leastBusy({ candidates, model, registry }: Choice) {
  const start = model.turn++;
  let best: Target = candidates[start % candidates.length]!;
  let fewest = registry.target(best).inFlight;
  for (let i = 1; i < candidates.length; i++) {
    const target = candidates[(start + i) % candidates.length]!;
    const inFlight = registry.target(target).inFlight;
    if (inFlight < fewest) {
      best = target;
      fewest = inFlight;
    }
  }
  return best;
}
