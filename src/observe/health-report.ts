import type { Catalog } from "../catalog/catalog";
import type { UsageStore } from "./usage/store";
import type { TargetStates } from "../targets/target-states";
import { isUsable, phaseOf } from "../targets/target-state";

/**
 * The stores on a server the proxy uses (`usage`: PostgreSQL; `redis`), by name: `down` while unreachable.
 * Embedded ones (the SQLite usage file, in-memory limits) are listed only while down (a usage
 * file that cannot be written).
 */
export type StoreStates = Readonly<Record<string, "up" | "down">>;

/** Whether the usage store takes rows: undefined when it is off, or an embedded (SQLite) file that does (not listed then). */
export const usageStoreUp = (usage: UsageStore | null): boolean | undefined => usage?.up;

/**
 * `/health`: liveness (always HTTP 200) with the state of every target. `degraded` when some model
 * has no usable target (half-open counts as usable: it takes its trial request), or a store in
 * `stores` is down (the proxy keeps serving; `stores` says which). `stores` appears only when given.
 */
export function healthReport(catalog: Catalog, states: TargetStates, now = Date.now(), stores: StoreStates = {}) {
  let degraded = false;
  const models = [...catalog.models.values()].map((model) => {
    const targets = model.targets.map((target) => {
      const state = states.target(target);
      return {
        name: target.name,
        state: phaseOf(state, now),
        inFlight: state.inFlight,
        ewmaTtfbMs: state.ewmaTtfbMs === null ? null : Math.round(state.ewmaTtfbMs * 10) / 10,
        consecutiveFailures: state.consecutiveFailures,
        cooldownUntil: state.cooldownUntil === 0 ? null : new Date(state.cooldownUntil).toISOString(),
      };
    });
    if (!model.targets.some((target) => isUsable(states.target(target), now) || states.target(target).trialInFlight)) degraded = true;
    return { id: model.id, displayName: model.displayName, targets };
  });
  if (Object.values(stores).includes("down")) degraded = true;
  return {
    status: degraded ? ("degraded" as const) : ("ok" as const),
    endpoints: models.length,
    models,
    ...(Object.keys(stores).length > 0 && { stores }),
  };
}
