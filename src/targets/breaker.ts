import { DEFAULT_COOLDOWN } from "../config/models";
import type { CooldownPolicy } from "../model/model";
import { phaseOf, type TargetState } from "./target-state";

/** A failed half-open trial doubles the wait, up to this many times the configured one. */
const MAX_COOLDOWN_FACTOR = 10;

/**
 * The longest rest a backend may ask for (Retry-After), so that it cannot take itself out for good:
 * as long as the breaker's own longest cool-down, and never shorter than the default policy's, so
 * that a short configured cool-down does not cut short a wait the backend asked for.
 */
export function longestRestMs(policy: CooldownPolicy | null): number {
  return MAX_COOLDOWN_FACTOR * Math.max(policy?.ms ?? 0, DEFAULT_COOLDOWN.seconds * 1000);
}

// The circuit breaker of one target: consecutive failures take it out for a while; past that, one
// trial request is let through (half-open); success brings it back, failure doubles the wait.

/**
 * The target answered (a status that will be relayed): it is up again if it was out. Its failures
 * in a row end only when a body comes whole (`recordServed`): one that breaks after its headers
 * still counts, so a backend that answers and then stalls is taken out like one that never answers.
 */
export function recordAnswer(state: TargetState): void {
  const wasOut = state.cooldownUntil !== 0;
  state.cooldownUntil = 0;
  state.cooldownMs = 0;
  state.trialInFlight = false;
  if (wasOut) state.listener?.back(state, Date.now());
}

/** A body relayed whole: the failures in a row are over. */
export function recordServed(state: TargetState): void {
  state.consecutiveFailures = 0;
}

/** A clean success outside a request (a health check passed): up, and the failures in a row are over. */
export function recordSuccess(state: TargetState): void {
  recordServed(state);
  recordAnswer(state);
}

/**
 * A failure of a request to the target; `trial`: the request was its half-open trial. Another
 * request's failure while a trial is under way is counted, but the trial alone judges the target.
 */
export function recordFailure(state: TargetState, policy: CooldownPolicy | null, now: number, trial = false): void {
  const before = state.cooldownUntil;
  state.consecutiveFailures++;
  const trialUnderWay = state.trialInFlight;
  if (trialUnderWay && !trial) return;
  const trialFailed = trialUnderWay || phaseOf(state, now) === "half-open";
  state.trialInFlight = false;
  if (!policy) return;
  if (trialFailed) {
    state.cooldownMs = Math.min(Math.max(state.cooldownMs, policy.ms) * 2, policy.ms * MAX_COOLDOWN_FACTOR);
    state.cooldownUntil = now + state.cooldownMs;
  } else if (state.consecutiveFailures >= policy.failures && phaseOf(state, now) === "up") {
    state.cooldownMs = policy.ms;
    state.cooldownUntil = now + policy.ms;
  }
  if (state.cooldownUntil > before) state.listener?.out(state, now);
}

/** A backend that said when to come back (a retryable answer with Retry-After) is out that long, without counting a failure. */
export function holdFor(state: TargetState, ms: number, now: number): void {
  const before = state.cooldownUntil;
  state.trialInFlight = false;
  state.cooldownUntil = Math.max(state.cooldownUntil, now + ms);
  state.cooldownMs = Math.max(state.cooldownMs, ms);
  if (state.cooldownUntil > before) state.listener?.out(state, now);
}

/** The request that is the half-open trial ended without an outcome for the target (client left). */
export function releaseTrial(state: TargetState): void {
  state.trialInFlight = false;
}

/** An active health check failed: the target is out for `ms`, and the failure counts. */
export function markDown(state: TargetState, ms: number, now: number): void {
  state.consecutiveFailures++;
  holdFor(state, ms, now);
}

/** Another instance took the target out until `until` (a cool-down of `ms`): it is out here too. */
export function learnOut(state: TargetState, until: number, ms: number): void {
  if (until > state.cooldownUntil) state.cooldownUntil = until;
  state.cooldownMs = Math.max(state.cooldownMs, ms);
}

/**
 * Another instance saw the target come back at `at`: that ends a cool-down that began before then,
 * not one this instance took since. Told no listener: the news came from the others.
 */
export function learnBack(state: TargetState, at: number, now: number): void {
  if (phaseOf(state, now) === "up") return;
  if (at < state.cooldownUntil - state.cooldownMs) return;
  state.cooldownUntil = 0;
  state.cooldownMs = 0;
  state.consecutiveFailures = 0;
}
