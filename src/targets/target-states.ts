import { stateKeyOf, type Model, type Target } from "../model/model";
import { TargetLease } from "./lease";
import { TargetState, type CooldownListener, type TargetView } from "./target-state";

/** Per-model selection state: the round-robin position, and smooth weighted round-robin's running weights by target name. */
export class ModelState {
  turn = 0;
  readonly smoothWeights = new Map<string, number>();
}

/**
 * All runtime state of the router, in one object passed to whoever needs it (never a module
 * global): per target (in flight, latency, cool-down) and per model (round-robin position).
 * Keyed by model id and target name, so state follows a target across reloads while its URL stays.
 */
export class TargetStates {
  private readonly targets = new Map<string, TargetState>();
  private readonly models = new Map<string, ModelState>();
  /** The URL each state key is served at by the current catalog (see `retain`). */
  private served = new Map<string, string>();
  private listener: CooldownListener | null = null;

  /** What is known of a target now, to read. */
  target(target: Target): TargetView {
    return this.state(target);
  }

  /** Starts a try at `target`: the lease is the request path's only way to change the target's state. */
  lease(target: Target, model: Model, now: number): TargetLease {
    return new TargetLease(this.state(target), model.cooldown, now);
  }

  /** The writable state, for the breaker's other callers: health checks. */
  state(target: Target): TargetState {
    let state = this.targets.get(target.stateKey);
    if (state?.url === target.url) return state;
    // A target of an older catalog (a request begun before a reload moved it) gets a state of its
    // own, kept nowhere: the backend now served under its name keeps its state, and nobody hears.
    const current = this.served.get(target.stateKey);
    if (current !== undefined && current !== target.url) return new TargetState(target.url, target.stateKey);
    // A state learnt from another instance for a URL this one does not serve is replaced.
    this.targets.set(target.stateKey, (state = this.create(target.url, target.stateKey)));
    return state;
  }

  /** From now on every target's cool-downs are told to `listener` (shared with other instances). */
  share(listener: CooldownListener): void {
    this.listener = listener;
    for (const state of this.targets.values()) state.listener = listener;
  }

  /**
   * The state of the target another instance reported on (by its state key): created when this
   * instance has not used it yet, so a cool-down learnt early still applies; null when this
   * instance serves a different URL under that name (the report is about another backend).
   */
  learnt(key: string, url: string): TargetState | null {
    const state = this.targets.get(key);
    if (state) return state.url === url ? state : null;
    const created = this.create(url, key);
    this.targets.set(key, created);
    return created;
  }

  private create(url: string, key: string): TargetState {
    const state = new TargetState(url, key);
    state.listener = this.listener;
    return state;
  }

  model(id: string): ModelState {
    let state = this.models.get(id);
    if (!state) this.models.set(id, (state = new ModelState()));
    return state;
  }

  /**
   * Keeps the state of the targets still served with the same URL and drops the rest (removed
   * targets, and targets whose URL changed: a new backend starts fresh). From now on these are the
   * targets served: requests still under way on an older catalog cannot replace their state.
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
    this.served = keep;
  }
}
