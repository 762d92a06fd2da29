import type { Catalog } from "../catalog/catalog";
import type { RuntimeRegistry } from "../state/registry";
import { isUsable, phaseOf } from "../state/target-state";

/**
 * `/health`: liveness (always HTTP 200) with the state of every target. `degraded` when some model
 * has no usable target (half-open counts as usable: it takes its trial request).
 */
export function healthReport(catalog: Catalog, registry: RuntimeRegistry, now = Date.now()) {
  let degraded = false;
  const models = [...catalog.models.values()].map((model) => {
    const targets = model.targets.map((target) => {
      const state = registry.target(target);
      return {
        name: target.name,
        state: phaseOf(state, now),
        inFlight: state.inFlight,
        ewmaTtfbMs: state.ewmaTtfbMs === null ? null : Math.round(state.ewmaTtfbMs * 10) / 10,
        consecutiveFailures: state.consecutiveFailures,
        cooldownUntil: state.cooldownUntil === 0 ? null : new Date(state.cooldownUntil).toISOString(),
      };
    });
    if (!model.targets.some((target) => isUsable(registry.target(target), now) || registry.target(target).probing)) degraded = true;
    return { id: model.id, displayName: model.displayName, targets };
  });
  return { status: degraded ? ("degraded" as const) : ("ok" as const), endpoints: models.length, models };
}
