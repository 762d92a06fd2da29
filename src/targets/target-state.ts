/**
 * Told when this instance takes a target out or brings it back (the breaker calls it): shared
 * cool-downs publish it to the other instances. Never waits: the hot path calls it.
 */
export interface CooldownListener {
  /** The target went out, or its cool-down was made longer. */
  out(state: TargetState, now: number): void;
  /** A target that was out (cooling or half-open) is up again. */
  back(state: TargetState, now: number): void;
}

/**
 * The runtime state of one target: what the router knows from the requests it sent there. Kept
 * apart from the immutable config so a reload can carry it over to an unchanged target.
 */
export class TargetState {
  inFlight = 0;
  /** Exponentially weighted moving average of the time to response headers; null until measured. */
  ewmaTtfbMs: number | null = null;
  consecutiveFailures = 0;
  /** Epoch ms until which the target is out; 0 when it is up. Past it, the target is half-open. */
  cooldownUntil = 0;
  /** The length of the current cool-down, doubled each time a half-open trial fails. */
  cooldownMs = 0;
  /** A half-open trial request is under way: no other request may go there until it ends. */
  trialInFlight = false;
  /** Who hears of this target's cool-downs (set by the states when they are shared); null alone. */
  listener: CooldownListener | null = null;

  /** `key` names the target (its model and name) across instances; see TargetStates. */
  constructor(
    readonly url: string,
    readonly key = url,
  ) {}
}

/** What readers (selection, reports, metrics) see of a target's state: only a lease, the breaker and health checks write it. */
export type TargetView = Readonly<TargetState>;

export type TargetPhase = "up" | "cooling" | "half-open";

export function phaseOf(state: TargetView, now: number): TargetPhase {
  if (state.cooldownUntil === 0) return "up";
  return now < state.cooldownUntil ? "cooling" : "half-open";
}

/** Whether a new request may be sent: up, or half-open with no trial request under way. */
export function isUsable(state: TargetView, now: number): boolean {
  const phase = phaseOf(state, now);
  return phase === "up" || (phase === "half-open" && !state.trialInFlight);
}
