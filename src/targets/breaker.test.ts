import { describe, expect, test } from "bun:test";
import { TargetState, isUsable, phaseOf } from "./target-state";
import { holdFor, longestRestMs, recordFailure, recordSuccess } from "./breaker";
import { TargetLease } from "./lease";

const POLICY = { failures: 3, ms: 1_000 };

describe("the circuit breaker", () => {
  test("three consecutive failures take the target out; a success in between resets the count", () => {
    const state = new TargetState("u");
    recordFailure(state, POLICY, 0);
    recordFailure(state, POLICY, 0);
    recordSuccess(state);
    recordFailure(state, POLICY, 0);
    recordFailure(state, POLICY, 0);
    expect(phaseOf(state, 0)).toBe("up");
    recordFailure(state, POLICY, 0);
    expect(phaseOf(state, 0)).toBe("cooling");
    expect(state.cooldownUntil).toBe(1_000);
  });

  test("half-open lets one trial through; its failure doubles the wait up to 10 times, its success restores", () => {
    const state = new TargetState("u");
    for (let i = 0; i < 3; i++) recordFailure(state, POLICY, 0);
    expect(phaseOf(state, 1_000)).toBe("half-open");
    expect(isUsable(state, 1_000)).toBe(true);
    state.trialInFlight = true;
    expect(isUsable(state, 1_000)).toBe(false);
    recordFailure(state, POLICY, 1_000, true);
    expect(state.cooldownUntil).toBe(3_000);
    let now = 3_000;
    for (let i = 0; i < 6; i++) {
      recordFailure(state, POLICY, now);
      now = state.cooldownUntil;
    }
    expect(state.cooldownMs).toBe(10_000);
    recordSuccess(state);
    expect(phaseOf(state, now)).toBe("up");
    expect(state.consecutiveFailures).toBe(0);
  });

  test("without a policy failures are counted but never cool the target", () => {
    const state = new TargetState("u");
    for (let i = 0; i < 10; i++) recordFailure(state, null, 0);
    expect(state.consecutiveFailures).toBe(10);
    expect(phaseOf(state, 0)).toBe("up");
  });

  test("Retry-After holds the target without counting a failure", () => {
    const state = new TargetState("u");
    holdFor(state, 2_500, 100);
    expect(phaseOf(state, 2_599)).toBe("cooling");
    expect(phaseOf(state, 2_600)).toBe("half-open");
    expect(state.consecutiveFailures).toBe(0);
  });

  test("a rest a backend asks for lasts at most the breaker's longest cool-down (10 × the policy's), never less than the default policy's", () => {
    const millennia = 99_999_999_999_000;
    for (const [policy, longest] of [
      [{ failures: 3, ms: 60_000 }, 600_000],
      [POLICY, 300_000],
      [null, 300_000],
    ] as const) {
      expect(longestRestMs(policy)).toBe(longest);
      const state = new TargetState("u");
      new TargetLease(state, policy, 100).release({ restMs: millennia }, 100);
      expect(state.cooldownUntil).toBe(100 + longest);
      expect(phaseOf(state, 100 + longest)).toBe("half-open");
      expect(state.consecutiveFailures).toBe(0);
      // A shorter rest is taken as asked.
      const short = new TargetState("u");
      new TargetLease(short, policy, 100).release({ restMs: 2_500 }, 100);
      expect(short.cooldownUntil).toBe(2_600);
    }
  });
});

describe("a lease judges its target", () => {
  test("a body that breaks after its headers counts: such failures in a row take the target out", () => {
    const state = new TargetState("u");
    for (let i = 0; i < 3; i++) {
      const lease = new TargetLease(state, POLICY, 0);
      lease.answered(5);
      lease.release("failed", 0);
    }
    expect(phaseOf(state, 0)).toBe("cooling");
  });

  test("a body relayed whole ends the failures in a row; headers alone do not", () => {
    const state = new TargetState("u");
    recordFailure(state, POLICY, 0);
    recordFailure(state, POLICY, 0);
    const answered = new TargetLease(state, POLICY, 0);
    answered.answered(5);
    expect(state.consecutiveFailures).toBe(2);
    answered.release("served", 0);
    expect(state.consecutiveFailures).toBe(0);
  });

  test("only the trial's own end judges a half-open target; another request's end leaves the trial under way", () => {
    const state = new TargetState("u");
    const early = new TargetLease(state, POLICY, 0); // sent while the target was up
    const late = new TargetLease(state, POLICY, 0);
    for (let i = 0; i < 3; i++) recordFailure(state, POLICY, 0);
    const trial = new TargetLease(state, POLICY, 1_000);
    expect(isUsable(state, 1_000)).toBe(false);
    early.release("unjudged", 1_000); // its client left
    expect(state.trialInFlight).toBe(true);
    late.release("failed", 1_000); // it timed out: counted, but the wait is not doubled for it
    expect(state.trialInFlight).toBe(true);
    expect(state.cooldownMs).toBe(1_000);
    trial.release("failed", 1_000);
    expect(state.trialInFlight).toBe(false);
    expect(state.cooldownMs).toBe(2_000);
  });

  test("a trial whose client left frees the target for the next trial", () => {
    const state = new TargetState("u");
    for (let i = 0; i < 3; i++) recordFailure(state, POLICY, 0);
    new TargetLease(state, POLICY, 1_000).release("unjudged", 1_000);
    expect(isUsable(state, 1_000)).toBe(true);
  });
});
