// One try's hold on a target: the only writer of a target's state on the request path.
import type { CooldownPolicy } from "../model/model";
import { holdFor, longestRestMs, recordAnswer, recordFailure, recordServed, releaseTrial } from "./breaker";
import { phaseOf, type TargetState } from "./target-state";

/** How a try ended for its target, as the breaker judges it. */
export type LeaseOutcome =
  /** Answered and relayed to its end. */
  | "served"
  /** No answer, a retryable status, or a body that broke: counts against the target. */
  | "failed"
  /** Ended by something that is not the target's doing (the client left, its body was refused). */
  | "unjudged"
  /** The backend asked to be left alone (Retry-After) this long: out, without counting a failure, for at most `longestRestMs`. */
  | { readonly restMs: number };

const LATENCY_WEIGHT = 0.3;

/**
 * Taken when a try starts: the target counts one more request in flight, and when it is half-open
 * this try is its trial. `answered` notes the headers' arrival (a success, and a latency sample);
 * `release` ends the hold exactly once, whatever path the request takes, so no slot leaks and no
 * trial stays stuck.
 */
export class TargetLease {
  private released = false;
  /** This try is the target's half-open trial (until an answer to any request brings the target back). */
  private readonly trial: boolean;

  constructor(
    private readonly state: TargetState,
    private readonly cooldown: CooldownPolicy | null,
    now: number,
  ) {
    this.trial = phaseOf(state, now) === "half-open";
    if (this.trial) state.trialInFlight = true;
    state.inFlight++;
  }

  /** The target answered with a status that will be relayed, `ms` after the try began. */
  answered(ms: number): void {
    const state = this.state;
    recordAnswer(state);
    state.ewmaTtfbMs = state.ewmaTtfbMs === null ? ms : state.ewmaTtfbMs + LATENCY_WEIGHT * (ms - state.ewmaTtfbMs);
  }

  release(outcome: LeaseOutcome, now = Date.now()): void {
    if (this.released) return;
    this.released = true;
    const state = this.state;
    state.inFlight--;
    const trial = this.trial && state.trialInFlight;
    if (outcome === "failed") recordFailure(state, this.cooldown, now, trial);
    else if (outcome === "served") recordServed(state);
    else if (outcome === "unjudged") {
      if (trial) releaseTrial(state);
    } else holdFor(state, Math.min(outcome.restMs, longestRestMs(this.cooldown)), now);
  }
}
