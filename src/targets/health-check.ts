import { backendAuthHeaders, modelListUrl, type Model, type Target } from "../model/model";
import type { TargetStates } from "./target-states";
import { phaseOf } from "./target-state";
import { markDown, recordSuccess } from "./breaker";

/** A check that takes longer than this counts as failed. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * Active health checks for models with `healthCheck.intervalMs`: every interval, `GET <url>/v1/models`
 * (the provider's model list) with the target's key. A failing target cools down (for the model's cool-down, else one
 * interval); a cooling one that answers again comes back at once.
 */
/** A model's check: its timer, the model as now served, and what its timer was armed for (interval and backends). */
interface Check {
  readonly timer: Timer;
  model: Model;
  readonly armedFor: string;
}

export class HealthChecker {
  /** The check of each model, by model id. */
  private checks = new Map<string, Check>();

  constructor(private readonly states: TargetStates) {}

  /**
   * Follows the models now served. A model whose interval and backends are unchanged keeps its timer
   * (the catalog is rebuilt on every reload and discovery change: re-arming would put each check a
   * whole interval off again, and a catalog that changes often would never let one run).
   */
  sync(models: Iterable<Model>): void {
    const next = new Map<string, Check>();
    for (const model of models) {
      if (model.healthCheckMs === null) continue;
      const interval = model.healthCheckMs;
      const armedFor = `${interval} ${model.targets.map((target) => `${target.name}=${target.prefix}`).join(" ")}`;
      const kept = this.checks.get(model.id);
      if (kept?.armedFor === armedFor) {
        this.checks.delete(model.id);
        kept.model = model;
        next.set(model.id, kept);
        continue;
      }
      const check: Check = { model, armedFor, timer: setInterval(() => void this.checkModel(check.model, interval), interval) };
      check.timer.unref();
      next.set(model.id, check);
    }
    this.stop();
    this.checks = next;
  }

  stop(): void {
    for (const { timer } of this.checks.values()) clearInterval(timer);
    this.checks.clear();
  }

  checkModel(model: Model, intervalMs: number): Promise<void[]> {
    return Promise.all(model.targets.map((target) => this.checkTarget(model, target, intervalMs)));
  }

  private async checkTarget(model: Model, target: Target, intervalMs: number): Promise<void> {
    // The state of the backend checked: a reload meanwhile may have given the name a new URL,
    // whose fresh state this answer says nothing about.
    const state = this.states.state(target);
    const healthy = await answers(target, Math.min(CHECK_TIMEOUT_MS, intervalMs));
    const now = Date.now();
    if (healthy) {
      if (phaseOf(state, now) !== "up") recordSuccess(state);
      return;
    }
    markDown(state, model.cooldown?.ms ?? intervalMs, now);
  }
}

async function answers(target: Target, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(modelListUrl(target), {
      headers: backendAuthHeaders(target),
      // A redirect is a failed check: fetch would carry the key headers (all but Authorization) to wherever it points.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
