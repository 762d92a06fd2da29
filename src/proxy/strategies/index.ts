import type { Strategy, Target } from "../../model/model";
import type { ModelState, RuntimeRegistry } from "../../targets/target-states";
import { latency } from "./latency";
import { leastBusy } from "./least-busy";
import { roundRobin } from "./round-robin";
import { weighted } from "./weighted";

/**
 * A strategy picks one of the candidates (a non-empty list of usable targets of one model).
 * `random` is injected so tests can pin the random choices of the latency strategy.
 */
export interface Choice {
  readonly candidates: readonly Target[];
  readonly model: ModelState;
  readonly registry: RuntimeRegistry;
  readonly random: () => number;
}

export type Pick = (choice: Choice) => Target;

export const STRATEGIES: Readonly<Record<Strategy, Pick>> = {
  "round-robin": roundRobin,
  weighted,
  "least-busy": leastBusy,
  latency,
};
