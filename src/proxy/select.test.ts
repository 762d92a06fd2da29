import { describe, expect, test } from "bun:test";
import { TargetStates } from "../targets/target-states";
import { holdFor } from "../targets/breaker";
import { EXPLORE_SHARE } from "./strategies/latency";
import { pickTarget, soonestBack } from "./select";
import { testModel } from "../../test/support/test-models";

const NOW = 1_000_000;

function countPicks(model: ReturnType<typeof testModel>, states: TargetStates, n: number, random = Math.random) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const target = pickTarget(model, states, new Set(), NOW, random)!;
    counts[target.name] = (counts[target.name] ?? 0) + 1;
  }
  return counts;
}

describe("strategies", () => {
  test("weighted: 1/2/3 over 600 picks is exactly 100/200/300, and every 6 picks hold the weights", () => {
    const model = testModel("m", [1, 2, 3], "weighted");
    const states = new TargetStates();
    expect(countPicks(model, states, 6)).toEqual({ t0: 1, t1: 2, t2: 3 });
    expect(countPicks(model, states, 594)).toEqual({ t0: 99, t1: 198, t2: 297 });
  });

  test("round-robin visits each target in turn", () => {
    const model = testModel("m", [1, 1, 1]);
    const states = new TargetStates();
    const order = Array.from({ length: 6 }, () => pickTarget(model, states, new Set(), NOW, Math.random)!.name);
    expect(order).toEqual(["t0", "t1", "t2", "t0", "t1", "t2"]);
  });

  test("least-busy takes the target with the fewest in flight", () => {
    const model = testModel("m", [1, 1, 1], "least-busy");
    const states = new TargetStates();
    states.state(model.targets[0]!).inFlight = 4;
    states.state(model.targets[1]!).inFlight = 1;
    states.state(model.targets[2]!).inFlight = 3;
    expect(countPicks(model, states, 10)).toEqual({ t1: 10 });
  });

  test("latency prefers the lower EWMA, and explores about 5 % of the time", () => {
    const model = testModel("m", [1, 1], "latency");
    const states = new TargetStates();
    states.state(model.targets[0]!).ewmaTtfbMs = 200;
    states.state(model.targets[1]!).ewmaTtfbMs = 20;
    // A seeded generator: deterministic, yet spread like Math.random.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const counts = countPicks(model, states, 10_000, random);
    expect(counts.t1! + counts.t0!).toBe(10_000);
    const slowShare = counts.t0! / 10_000;
    expect(slowShare).toBeGreaterThan(EXPLORE_SHARE / 2 / 2);
    expect(slowShare).toBeLessThan(EXPLORE_SHARE);
  });
});

describe("usable targets", () => {
  test("a cooling target is skipped; one not yet tried is preferred over one tried", () => {
    const model = testModel("m", [1, 1, 1]);
    const states = new TargetStates();
    holdFor(states.target(model.targets[0]!), 5_000, NOW);
    const tried = new Set([model.targets[1]!]);
    expect(pickTarget(model, states, tried, NOW, Math.random)!.name).toBe("t2");
  });

  test("a lone target already tried is tried again", () => {
    const model = testModel("m", [1]);
    const states = new TargetStates();
    expect(pickTarget(model, states, new Set(model.targets), NOW, Math.random)!.name).toBe("t0");
  });

  test("with every target out there is no pick, and the one back soonest is named", () => {
    const model = testModel("m", [1, 1]);
    const states = new TargetStates();
    holdFor(states.target(model.targets[0]!), 9_000, NOW);
    holdFor(states.target(model.targets[1]!), 3_000, NOW);
    expect(pickTarget(model, states, new Set(), NOW, Math.random)).toBeNull();
    expect(soonestBack(model, states).name).toBe("t1");
  });
});
