import { describe, expect, test } from "bun:test";
import { stateKeyOf } from "../model/model";
import { holdFor, markDown, recordFailure, recordSuccess } from "./breaker";
import type { Logger } from "../lib/log";
import type { RedisLink } from "../cluster/redis-link";
import { TargetStates } from "./target-states";
import { cooldownKey, SharedCooldowns, type CooldownMessage } from "./shared-cooldowns";
import { phaseOf, TargetState, type CooldownListener } from "./target-state";

const POLICY = { failures: 2, ms: 1_000 };
const KEY = stateKeyOf("duo", "a");
const URL_A = "http://a.example/v1/";

/** A listener that writes down what the breaker tells it. */
function recorder() {
  const events: string[] = [];
  const listener: CooldownListener = {
    out: (state, now) => events.push(`out ${state.cooldownUntil - now}`),
    back: () => events.push("back"),
  };
  return { events, listener };
}

describe("the breaker tells the shared cool-downs when a target goes out or comes back", () => {
  test("the failure that reaches the threshold is an out; the ones before and after it (still cooling) are not", () => {
    const { events, listener } = recorder();
    const state = new TargetState(URL_A, KEY);
    state.listener = listener;
    recordFailure(state, POLICY, 0);
    expect(events).toEqual([]);
    recordFailure(state, POLICY, 0);
    expect(events).toEqual(["out 1000"]);
    recordFailure(state, POLICY, 10); // a request that was already under way fails: no new cool-down
    expect(events).toEqual(["out 1000"]);
    // A failed half-open trial doubles the wait: an out.
    state.trialInFlight = true;
    recordFailure(state, POLICY, 1_000, true);
    expect(events).toEqual(["out 1000", "out 2000"]);
    // The successful trial: back.
    recordSuccess(state);
    expect(events).toEqual(["out 1000", "out 2000", "back"]);
    // A success while up says nothing.
    recordSuccess(state);
    expect(events).toHaveLength(3);
  });

  test("Retry-After (holdFor) and a failed health check (markDown) are outs when they make the cool-down longer", () => {
    const { events, listener } = recorder();
    const state = new TargetState(URL_A, KEY);
    state.listener = listener;
    holdFor(state, 5_000, 0);
    holdFor(state, 1_000, 0); // shorter than the hold in force: nothing new
    markDown(state, 8_000, 0);
    expect(events).toEqual(["out 5000", "out 8000"]);
  });

  test("without a listener (no Redis) nothing changes", () => {
    const state = new TargetState(URL_A);
    recordFailure(state, POLICY, 0);
    recordFailure(state, POLICY, 0);
    expect(phaseOf(state, 0)).toBe("cooling");
  });
});

/** A link that records what would be published. */
function fakeLink() {
  const runs: { keys: readonly string[]; args: readonly (string | number)[] }[] = [];
  const link = {
    run: async (_script: unknown, keys: readonly string[], args: readonly (string | number)[]) => {
      runs.push({ keys, args });
      return 1;
    },
    subscribe: () => {},
  } as unknown as RedisLink;
  return { link, runs };
}

const silent: Logger = { info() {}, warn() {}, error() {} };

function setup() {
  const states = new TargetStates();
  const { link, runs } = fakeLink();
  const shared = new SharedCooldowns(link, states, silent);
  shared.start();
  const message = (fields: Partial<CooldownMessage>): CooldownMessage => ({
    op: "out",
    key: KEY,
    url: URL_A,
    leftMs: 5_000,
    ms: 5_000,
    at: 0,
    from: "other",
    ...fields,
  });
  return { states, shared, runs, message };
}

describe("shared cool-downs", () => {
  test("a take-out here is published (SET with expiry + PUBLISH) with its time left and length; its echo is skipped", () => {
    const { states, shared, runs } = setup();
    const state = states.learnt(KEY, URL_A)!;
    recordFailure(state, POLICY, 1_000);
    recordFailure(state, POLICY, 1_000);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.keys).toEqual([cooldownKey(KEY)]);
    const [channel, op, text, leftMs] = runs[0]!.args;
    expect([channel, op, leftMs]).toEqual(["cm-proxy:cooldowns", "out", 1_000]);
    const sent = JSON.parse(String(text)) as CooldownMessage;
    expect(sent).toMatchObject({ op: "out", key: KEY, url: URL_A, leftMs: 1_000, ms: 1_000, at: 1_000, from: shared.instance });
    // Its own message coming back changes nothing.
    shared.apply({ ...sent, leftMs: 60_000 }, 1_000);
    expect(state.cooldownUntil).toBe(2_000);
  });

  test("another instance's take-out applies here, keeping the later end and the longer length", () => {
    const { states, shared, message } = setup();
    shared.apply(message({ leftMs: 5_000, ms: 5_000 }), 100);
    const state = states.learnt(KEY, URL_A)!;
    expect(phaseOf(state, 100)).toBe("cooling");
    expect(state.cooldownUntil).toBe(5_100);
    shared.apply(message({ leftMs: 1_000, ms: 1_000 }), 200); // shorter: kept as it was
    expect(state.cooldownUntil).toBe(5_100);
    expect(state.cooldownMs).toBe(5_000);
    shared.apply(message({ leftMs: 9_000, ms: 9_000 }), 300);
    expect([state.cooldownUntil, state.cooldownMs]).toEqual([9_300, 9_000]);
  });

  test("a report on another URL under the same name (another backend) is ignored", () => {
    const { states, shared, message } = setup();
    const state = states.learnt(KEY, URL_A)!;
    shared.apply(message({ url: "http://elsewhere/v1/" }), 0);
    expect(phaseOf(state, 0)).toBe("up");
  });

  test("'back' ends a cool-down that began before it, not one taken here since", () => {
    const { states, shared, message } = setup();
    shared.apply(message({ leftMs: 5_000, ms: 5_000 }), 1_000); // out from 1 000 to 6 000
    const state = states.learnt(KEY, URL_A)!;
    shared.apply(message({ op: "back", at: 500 }), 1_100); // sent before this cool-down began
    expect(phaseOf(state, 1_100)).toBe("cooling");
    shared.apply(message({ op: "back", at: 1_050 }), 1_100);
    expect(phaseOf(state, 1_100)).toBe("up");
    expect(state.consecutiveFailures).toBe(0);
  });

  test("a target this instance has not used yet gets its state on the first report, and keeps the listener", () => {
    const { states, shared, message, runs } = setup();
    shared.apply(message({ key: stateKeyOf("solo", "x") }), 0);
    const state = states.learnt(stateKeyOf("solo", "x"), URL_A)!;
    expect(phaseOf(state, 0)).toBe("cooling");
    state.trialInFlight = true;
    recordSuccess(state);
    expect(runs.map((run) => run.args[1])).toEqual(["back"]);
  });
});
