import type { Model, Target } from "../model/model";
import type { TargetStates } from "../targets/target-states";
import { isUsable } from "../targets/target-state";
import { STRATEGIES } from "./strategies";

/**
 * The target for the next try of `model`: a usable one not tried yet by this request, else a
 * usable one already tried (a lone target is retried), else null (every target is cooling down or
 * has its half-open trial under way).
 */
export function pickTarget(model: Model, states: TargetStates, tried: ReadonlySet<Target>, now: number, random: () => number): Target | null {
  const pick = STRATEGIES[model.strategy];
  const choice = { model: states.model(model.id), states, random };
  // The common case (every target up, nothing tried yet) needs no list of its own.
  if (tried.size === 0 && model.targets.every((target) => isUsable(states.target(target), now))) {
    return pick({ ...choice, candidates: model.targets });
  }
  let fresh: Target[] | null = null;
  let usable: Target[] | null = null;
  for (const target of model.targets) {
    if (!isUsable(states.target(target), now)) continue;
    (usable ??= []).push(target);
    if (!tried.has(target)) (fresh ??= []).push(target);
  }
  const candidates = fresh ?? usable;
  if (!candidates) return null;
  return pick({ ...choice, candidates });
}

/** When every target is out, the one that comes back soonest is tried rather than failing outright. */
export function soonestBack(model: Model, states: TargetStates): Target {
  let best = model.targets[0]!;
  for (const target of model.targets) {
    if (states.target(target).cooldownUntil < states.target(best).cooldownUntil) best = target;
  }
  return best;
}

/** Whether some target of the model can take a request now. */
export function canServe(model: Model, states: TargetStates, now: number): boolean {
  return model.targets.some((target) => isUsable(states.target(target), now));
}
