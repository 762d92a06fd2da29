import { describe, expect, test } from "bun:test";
import { MemoryCounters } from "./memory-counters";
import { rulesFor, type LimitRule } from "./rules";
import { countersContract } from "../../test/support/counters-contract";

// The embedded default; test/redis/counters-contract.test.ts holds the Redis counters to the same tests.
const store = new MemoryCounters();
countersContract("memory", () => store);

describe("memory: counters that hold nothing are dropped", () => {
  test("rates recovered, windows gone by and idle slots go; a counter still holding something stays", async () => {
    const counters = new MemoryCounters();
    const t0 = Date.UTC(2026, 11, 7, 12);
    const rules = (user: string) => {
      const into: LimitRule[] = [];
      rulesFor("user", user, { rpm: 60, tokensPerDay: 1000, concurrent: 2 }, into);
      return into;
    };
    for (let i = 0; i < 100; i++) {
      const mine = rules(`forged-${i}`);
      await counters.admit(mine, t0);
      await counters.release(mine);
      await counters.charge(mine, { tokens: 10, nanos: 0 }, t0);
    }
    expect(counters.size).toBe(300);
    // Two minutes on: each rate has recovered and no slot is held, but today's tokens still count.
    const later = rules("later");
    await counters.admit(later, t0 + 120_000);
    expect(counters.size).toBe(100 + 3);
    await counters.release(later);
    expect((await counters.peek(rules("forged-7"), t0 + 120_000)).find((r) => r.rule.kind === "tokensPerDay")).toMatchObject({ used: 10 });
    // The next day, yesterday's tokens go too.
    await counters.admit(rules("tomorrow"), t0 + 86_400_000);
    expect(counters.size).toBe(3);
  });
});
