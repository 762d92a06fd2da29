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
export class HealthChecker {
  private timers: Timer[] = [];

  constructor(private readonly states: TargetStates) {}

  /** Re-arms the checks for the models now served. */
  sync(models: Iterable<Model>): void {
    this.stop();
    for (const model of models) {
      if (model.healthCheckMs === null) continue;
      const interval = model.healthCheckMs;
      const timer = setInterval(() => void this.checkModel(model, interval), interval);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
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
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
