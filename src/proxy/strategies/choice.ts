// What a strategy is given, and what it returns.
import type { Target } from "../../model/model";
import type { ModelState, TargetStates } from "../../targets/target-states";

/**
 * A strategy picks one of the candidates (a non-empty list of usable targets of one model).
 * `random` is injected so tests can pin the random choices of the latency strategy.
 */
export interface Choice {
  readonly candidates: readonly Target[];
  readonly model: ModelState;
  readonly states: TargetStates;
  readonly random: () => number;
}

export type Pick = (choice: Choice) => Target;
