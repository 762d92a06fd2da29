import type { Target } from "../../model/model";
import type { Choice } from "./choice";

/** The target with the fewest requests in flight; ties go round the candidates in turn. */
export function leastBusy({ candidates, model, states }: Choice) {
  const start = model.turn++;
  let best: Target = candidates[start % candidates.length]!;
  let fewest = states.target(best).inFlight;
  for (let i = 1; i < candidates.length; i++) {
    const target = candidates[(start + i) % candidates.length]!;
    const inFlight = states.target(target).inFlight;
    if (inFlight < fewest) {
      best = target;
      fewest = inFlight;
    }
  }
  return best;
}
