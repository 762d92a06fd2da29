import { stateKeyOf, type Model, type Target } from "../catalog/model";
import { TargetState } from "./target-state";

/** Per-model state: the round-robin position. */
export class ModelState {
  turn = 0;
}

/**
 * All runtime state of the router, in one object passed to whoever needs it (never a module
 * global): per target (in flight, latency, cool-down) and per model (round-robin position).
 * Keyed by model id and target name, so state follows a target across reloads while its URL stays.
 */
export class RuntimeRegistry {
  private readonly targets = new Map<string, TargetState>();
  private readonly models = new Map<string, ModelState>();

  target(target: Target): TargetState {
    let state = this.targets.get(target.stateKey);
    if (!state) this.targets.set(target.stateKey, (state = new TargetState(target.url)));
    return state;
  }

  model(id: string): ModelState {
    let state = this.models.get(id);
    if (!state) this.models.set(id, (state = new ModelState()));
    return state;
  }

  /**
   * Keeps the state of the targets still served with the same URL and drops the rest (removed
   * targets, and targets whose URL changed: a new backend starts fresh).
   */
  retain(models: Iterable<Model>): void {
    const keep = new Map<string, string>();
    const modelIds = new Set<string>();
    for (const model of models) {
      modelIds.add(model.id);
      for (const target of model.targets) keep.set(stateKeyOf(model.id, target.name), target.url);
    }
    for (const [key, state] of this.targets) if (keep.get(key) !== state.url) this.targets.delete(key);
    for (const id of this.models.keys()) if (!modelIds.has(id)) this.models.delete(id);
  }
}
