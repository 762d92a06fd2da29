// The contract of the limit counters, as tests: registered once per implementation (memory-counters.test.ts,
// test/redis/counters-contract.test.ts), so the memory and Redis counters are held to the same behaviour.
// Times are simulated (`now` is passed in), so nothing here waits. Each test uses rules of its own
// (a fresh subject), so a store shared by the tests needs no cleaning between them.
import { describe, expect, test } from "bun:test";
import { WINDOW_MS } from "../../src/limits/gcra";
import { MemoryCounters } from "../../src/limits/memory-counters";
import type { LimitKind, LimitScope } from "../../src/model/limits";
import { NANOS_PER_USD, type LimitRule, type Spent } from "../../src/limits/rules";
import { msToWindowEnd } from "../../src/limits/calendar";
import type { LimitCounters, RuleResult } from "../../src/limits/counters";

/** Noon UTC on a fixed day: 12 hours to the next 00:00 UTC. */
const NOON = Date.UTC(2025, 0, 15, 12, 0, 0);
const HALF_DAY = 43_200_000;

let serial = 0;

/** A rule on a subject no other test uses. */
function rule(kind: LimitKind, limit: number, scope: LimitScope = "client", subject = `contract-${process.pid}-${Date.now()}-${++serial}`): LimitRule {
  return { scope, kind, subject, limit, key: `${scope}:${kind}:${subject}` };
}

/** A result as the contract defines it (a store may carry more, e.g. the memory store's TAT). */
const plain = (results: readonly RuleResult[]) =>
  results.map(({ rule, allowed, remaining, used, resetMs, retryAfterMs }) => ({ rule, allowed, remaining, used, resetMs, retryAfterMs }));

/** What a charge of tokens spends; of dollars, in the counters' nano-dollars. */
const tokens = (n: number): Spent => ({ tokens: n, nanos: 0 });
const usd = (dollars: number) => Math.round(dollars * NANOS_PER_USD);
const cost = (dollars: number): Spent => ({ tokens: 0, nanos: usd(dollars) });

const summary = (results: readonly RuleResult[]) => results.map(({ allowed, remaining, retryAfterMs }) => ({ allowed, remaining, retryAfterMs }));

/** Admits `n` requests at `now`; how many were allowed. */
async function admitMany(store: LimitCounters, rules: readonly LimitRule[], n: number, now: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await store.admit(rules, now)).every((result) => result.allowed)) allowed++;
  return allowed;
}

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random sequence of admissions, releases, charges (tokens and cost) and looks from `start`, each
 * answer compared with the reference (memory) store's.
 */
async function matchesReference(store: LimitCounters, rules: readonly LimitRule[], start: number, seed: number): Promise<void> {
  const reference = new MemoryCounters();
  const next = random(seed);
  const held: LimitRule[][] = [];
  let now = start;
  for (let step = 0; step < 300; step++) {
    now += Math.floor(next() * 2_500);
    const subset = rules.filter(() => next() < 0.5);
    const action = next();
    if (action < 0.5) {
      const [got, want] = [await store.admit(subset, now), await reference.admit(subset, now)];
      expect(plain(got)).toEqual(plain(want));
      if (want.every((result) => result.allowed)) held.push(subset);
    } else if (action < 0.7 && held.length > 0) {
      const done = held.splice(Math.floor(next() * held.length), 1)[0]!;
      await Promise.all([store.release(done), reference.release(done)]);
    } else if (action < 0.85) {
      const spent = { tokens: 1 + Math.floor(next() * 400), nanos: Math.floor(next() * usd(0.004)) };
      await Promise.all([store.charge(subset, spent, now), reference.charge(subset, spent, now)]);
    } else {
      expect(plain(await store.peek(rules, now))).toEqual(plain(await reference.peek(rules, now)));
    }
  }
  expect(plain(await store.peek(rules, now))).toEqual(plain(await reference.peek(rules, now)));
}

export function countersContract(name: string, store: () => LimitCounters) {
  describe(`LimitCounters contract: ${name}`, () => {
    test("no rules: nothing to check", async () => {
      expect(await store().admit([], NOON)).toEqual([]);
      expect(await store().peek([], NOON)).toEqual([]);
      await store().release([]);
      await store().charge([], tokens(100), NOON);
    });

    test("rpm 5: five at once pass counting down, the sixth is refused for one interval (12 s); the window refills", async () => {
      const rpm = rule("rpm", 5);
      const remaining: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [result] = await store().admit([rpm], NOON);
        expect(result!.allowed).toBe(true);
        expect(result!.rule).toEqual(rpm);
        remaining.push(result!.remaining);
      }
      expect(remaining).toEqual([4, 3, 2, 1, 0]);
      const [refused] = await store().admit([rpm], NOON);
      expect(refused).toMatchObject({ allowed: false, remaining: 0, resetMs: WINDOW_MS, retryAfterMs: 12_000 });
      // 12 s later exactly one more is back.
      expect(await admitMany(store(), [rpm], 3, NOON + 12_000)).toBe(1);
      // A whole window later, the whole limit.
      expect(await admitMany(store(), [rpm], 6, NOON + 12_000 + WINDOW_MS)).toBe(5);
    });

    test("rpm 120: exactly 120 of 200 at once; no boundary doubling (half a minute later, half the limit)", async () => {
      const rpm = rule("rpm", 120);
      expect(await admitMany(store(), [rpm], 200, NOON)).toBe(120);
      expect(await admitMany(store(), [rpm], 200, NOON + WINDOW_MS / 2)).toBe(60);
    });

    test("all or nothing: a refused request spends nothing on the rules that would have admitted it", async () => {
      const rpm = rule("rpm", 10);
      const slots = rule("concurrent", 1);
      const tpd = rule("tokensPerDay", 1000);
      const rules = [rpm, slots, tpd];
      const first = await store().admit(rules, NOON);
      expect(first.map((result) => result.allowed)).toEqual([true, true, true]);
      const second = await store().admit(rules, NOON);
      expect(second.map((result) => result.allowed)).toEqual([true, false, true]);
      expect(second[1]!.retryAfterMs).toBe(1000);
      // The second request took no rpm unit: 9 left, as after the first.
      expect(summary(await store().peek([rpm, slots], NOON))).toEqual([
        { allowed: true, remaining: 9, retryAfterMs: 0 },
        { allowed: false, remaining: 0, retryAfterMs: 1000 },
      ]);
    });

    test("results come in the rules' order, each naming its rule", async () => {
      const rules = [rule("tokensPerDay", 50, "model"), rule("rpm", 3, "user"), rule("concurrent", 2), rule("tpm", 600)];
      const results = await store().admit(rules, NOON);
      expect(results.map((result) => result.rule)).toEqual(rules);
      expect(results.map((result) => result.remaining)).toEqual([50, 2, 1, 600]);
    });

    test("concurrent 2: two in flight, the third refused (retry in 1 s); a release frees a slot; releases never go below zero", async () => {
      const slots = rule("concurrent", 2);
      expect(summary(await store().admit([slots], NOON))).toEqual([{ allowed: true, remaining: 1, retryAfterMs: 0 }]);
      expect(summary(await store().admit([slots], NOON))).toEqual([{ allowed: true, remaining: 0, retryAfterMs: 0 }]);
      expect(summary(await store().admit([slots], NOON))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: 1000 }]);
      expect((await store().peek([slots], NOON))[0]!.resetMs).toBe(0);
      await store().release([slots]);
      expect((await store().admit([slots], NOON))[0]!.allowed).toBe(true);
      for (let i = 0; i < 5; i++) await store().release([slots]);
      expect((await store().peek([slots], NOON))[0]!.remaining).toBe(2);
      expect(await admitMany(store(), [slots], 3, NOON)).toBe(2);
    });

    test("release frees only concurrent slots; other kinds are untouched", async () => {
      const rpm = rule("rpm", 2);
      const slots = rule("concurrent", 1);
      await store().admit([rpm, slots], NOON);
      await store().release([rpm, slots]);
      expect(summary(await store().peek([rpm, slots], NOON))).toEqual([
        { allowed: true, remaining: 1, retryAfterMs: 0 },
        { allowed: true, remaining: 1, retryAfterMs: 0 },
      ]);
    });

    test("tpm 1000: admission only checks; tokens are charged after, whatever they come to; the next request waits", async () => {
      const tpm = rule("tpm", 1000);
      const [checked] = await store().admit([tpm], NOON);
      expect(checked).toMatchObject({ allowed: true, remaining: 1000, retryAfterMs: 0 });
      expect((await store().peek([tpm], NOON))[0]!.remaining).toBe(1000); // admission spent nothing
      await store().charge([tpm], tokens(999), NOON);
      // One token left: still admitted (reaching the limit exactly is allowed).
      expect(summary(await store().admit([tpm], NOON))).toEqual([{ allowed: true, remaining: 1, retryAfterMs: 0 }]);
      await store().charge([tpm], tokens(1), NOON);
      const [refused] = await store().admit([tpm], NOON);
      expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 60, resetMs: WINDOW_MS });
      expect((await store().admit([tpm], NOON + 60))[0]!.allowed).toBe(true);
      // A long answer is charged in full even past the limit: the debt is paid over time.
      await store().charge([tpm], tokens(5000), NOON + 60);
      const [inDebt] = await store().admit([tpm], NOON + 60);
      expect(inDebt!.allowed).toBe(false);
      expect(inDebt!.retryAfterMs).toBeCloseTo(5 * WINDOW_MS, 6);
    });

    test("tokensPerDay 100: spent as charged, refused once reached (retry at 00:00 UTC), whole again the next day", async () => {
      const tpd = rule("tokensPerDay", 100);
      await store().charge([tpd], tokens(60), NOON);
      expect(plain(await store().peek([tpd], NOON))).toEqual([{ rule: tpd, allowed: true, remaining: 40, used: 60, resetMs: HALF_DAY, retryAfterMs: 0 }]);
      await store().charge([tpd], tokens(40), NOON + 1000);
      expect(plain(await store().admit([tpd], NOON + 2000))).toEqual([
        { rule: tpd, allowed: false, remaining: 0, used: 100, resetMs: HALF_DAY - 2000, retryAfterMs: HALF_DAY - 2000 },
      ]);
      const tomorrow = NOON + HALF_DAY;
      expect(plain(await store().admit([tpd], tomorrow))).toEqual([
        { rule: tpd, allowed: true, remaining: 100, used: 0, resetMs: 86_400_000, retryAfterMs: 0 },
      ]);
      await store().charge([tpd], tokens(30), tomorrow);
      expect((await store().peek([tpd], tomorrow + 1))[0]!.remaining).toBe(70);
    });

    test("a charge dated in a window that has already given way to the next (a late instance's clock, a clock stepped back) is dropped: the new window keeps its count", async () => {
      const tpd = rule("tokensPerDay", 100);
      const tomorrow = NOON + HALF_DAY;
      await store().charge([tpd], tokens(30), tomorrow);
      // Before the day changed, by a clock that is behind; nor does an admission dated then write over it.
      await store().charge([tpd], tokens(50), tomorrow - 2000);
      await store().admit([tpd], tomorrow - 2000);
      expect((await store().peek([tpd], tomorrow + 1))[0]!.used).toBe(30);
      await store().charge([tpd], tokens(5), tomorrow + 2);
      expect((await store().peek([tpd], tomorrow + 3))[0]!.used).toBe(35);

      const budget = rule("usdPerMonth", usd(10));
      const nextMonth = Date.UTC(2025, 1, 1, 0, 0, 1);
      await store().charge([budget], cost(2), nextMonth);
      await store().charge([budget], cost(5), nextMonth - 2000);
      expect((await store().peek([budget], nextMonth + 1))[0]!.used).toBe(usd(2));
    });

    test("a charge dated days back (a clock stuck at 1970 before NTP, or stepped back) is dropped: it cannot wipe today's spend", async () => {
      const tpd = rule("tokensPerDay", 100);
      await store().charge([tpd], tokens(100), NOON);
      await store().charge([tpd], tokens(1), NOON - 4 * HALF_DAY);
      await store().charge([tpd], tokens(1), 0);
      expect(plain(await store().admit([tpd], NOON + 1000))[0]).toMatchObject({ allowed: false, used: 100 });
    });

    test("charge spends only token rules; rates and slots are untouched", async () => {
      const rpm = rule("rpm", 3);
      const slots = rule("concurrent", 1);
      const tpm = rule("tpm", 100);
      await store().charge([rpm, slots, tpm], tokens(50), NOON);
      expect((await store().peek([rpm, slots, tpm], NOON)).map((result) => result.remaining)).toEqual([3, 1, 50]);
    });

    test("peek spends nothing", async () => {
      const rules = [rule("rpm", 1), rule("concurrent", 1), rule("tpm", 10), rule("tokensPerDay", 10)];
      for (let i = 0; i < 5; i++) await store().peek(rules, NOON);
      expect((await store().admit(rules, NOON)).every((result) => result.allowed)).toBe(true);
    });

    test("counters are per key: another subject, scope or kind has its own", async () => {
      const subject = `shared-${Date.now()}-${++serial}`;
      const a = rule("rpm", 1, "client", subject);
      const b = rule("rpm", 1, "user", subject);
      const c = rule("rpm", 1, "client");
      for (const one of [a, b, c]) expect((await store().admit([one], NOON))[0]!.allowed).toBe(true);
      for (const one of [a, b, c]) expect((await store().admit([one], NOON))[0]!.allowed).toBe(false);
    });

    test("an odd limit (rpm 7) keeps its fractional time exactly: the results equal the reference store's", async () => {
      const reference = new MemoryCounters();
      const rpm = rule("rpm", 7);
      for (let i = 0; i < 12; i++) {
        const now = NOON + i * 3_333;
        expect(plain(await store().admit([rpm], now))).toEqual(plain(await reference.admit([rpm], now)));
      }
    });

    test("a random sequence of admissions, releases, charges and looks gives exactly the reference (memory) store's results", async () => {
      const rules = [
        rule("rpm", 13),
        rule("tpm", 777),
        rule("concurrent", 3),
        rule("tokensPerDay", 5000),
        rule("rpm", 4, "model"),
        rule("concurrent", 2, "user"),
        rule("usdPerDay", usd(0.05), "user"),
      ];
      await matchesReference(store(), rules, NOON - 30_000, 20250115);
    });

    test("the same across 00:00 UTC at the end of a leap February: days and months roll over as in the reference store", async () => {
      const rules = [rule("tokensPerDay", 3000), rule("usdPerDay", usd(0.04)), rule("usdPerMonth", usd(0.06), "model"), rule("rpm", 20, "user")];
      await matchesReference(store(), rules, Date.UTC(2024, 1, 29, 23, 57), 20240229);
    });

    test("usdPerDay $1: admitted while below, charged after; the request whose cost reaches it exactly was the last (retry at 00:00 UTC)", async () => {
      const budget = rule("usdPerDay", usd(1));
      expect(plain(await store().admit([budget], NOON))).toEqual([
        { rule: budget, allowed: true, remaining: usd(1), used: 0, resetMs: HALF_DAY, retryAfterMs: 0 },
      ]);
      await store().charge([budget], cost(0.6), NOON);
      expect(summary(await store().admit([budget], NOON + 1))).toEqual([{ allowed: true, remaining: usd(0.4), retryAfterMs: 0 }]);
      await store().charge([budget], cost(0.4), NOON + 1);
      expect(plain(await store().admit([budget], NOON + 2))).toEqual([
        { rule: budget, allowed: false, remaining: 0, used: usd(1), resetMs: HALF_DAY - 2, retryAfterMs: HALF_DAY - 2 },
      ]);
      // One nano-dollar short is still below it.
      const nearly = rule("usdPerDay", usd(1));
      await store().charge([nearly], { tokens: 0, nanos: usd(1) - 1 }, NOON);
      expect(summary(await store().admit([nearly], NOON))).toEqual([{ allowed: true, remaining: 1, retryAfterMs: 0 }]);
    });

    test("a budget overrun by what was in flight is charged in full: the spend shows it, nothing is admitted until the day rolls over", async () => {
      const budget = rule("usdPerDay", usd(1), "user");
      const admitted = await Promise.all([0, 1, 2].map(() => store().admit([budget], NOON)));
      expect(admitted.every(([result]) => result!.allowed)).toBe(true);
      for (let i = 0; i < 3; i++) await store().charge([budget], cost(0.45), NOON + 10);
      expect(summary(await store().peek([budget], NOON + 20))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: HALF_DAY - 20 }]);
      // What was spent shows whole, past the budget.
      expect((await store().peek([budget], NOON + 20))[0]!.used).toBe(usd(1.35));
      const midnight = NOON + HALF_DAY;
      expect(summary(await store().admit([budget], midnight - 1))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: 1 }]);
      expect(plain(await store().admit([budget], midnight))).toEqual([
        { rule: budget, allowed: true, remaining: usd(1), used: 0, resetMs: 86_400_000, retryAfterMs: 0 },
      ]);
    });

    test("usdPerMonth: spent through the month, refused until 00:00 UTC on the 1st, whole again then", async () => {
      const budget = rule("usdPerMonth", usd(20), "model");
      const firstOfFebruary = Date.UTC(2025, 1, 1);
      await store().charge([budget], cost(12.5), Date.UTC(2025, 0, 1));
      await store().charge([budget], cost(7.5), NOON);
      expect(summary(await store().admit([budget], NOON + 5))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: firstOfFebruary - NOON - 5 }]);
      expect(summary(await store().admit([budget], firstOfFebruary - 1))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: 1 }]);
      const [renewed] = await store().admit([budget], firstOfFebruary);
      expect(renewed).toMatchObject({ allowed: true, remaining: usd(20), resetMs: 28 * 86_400_000 });
      // A day rolling over inside the month changes nothing.
      await store().charge([budget], cost(3), firstOfFebruary + 1);
      expect((await store().peek([budget], firstOfFebruary + 86_400_000 * 5))[0]!.remaining).toBe(usd(17));
    });

    test("a budget of 0 admits nothing (spent < limit: 0 < 0 is false), refused until the window ends", async () => {
      const day = rule("usdPerDay", 0);
      const month = rule("usdPerMonth", 0, "user");
      expect(plain(await store().admit([day], NOON))).toEqual([
        { rule: day, allowed: false, remaining: 0, used: 0, resetMs: HALF_DAY, retryAfterMs: HALF_DAY },
      ]);
      expect(summary(await store().admit([month], NOON))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: Date.UTC(2025, 1, 1) - NOON }]);
      // A tokensPerDay of the same size would behave the same: one rule for every windowed limit.
      expect(summary(await store().admit([rule("tokensPerDay", 0)], NOON))).toEqual([{ allowed: false, remaining: 0, retryAfterMs: HALF_DAY }]);
    });

    test("cost is charged to budgets only, tokens to token limits only; a request without a price charges no budget", async () => {
      const budget = rule("usdPerDay", usd(1));
      const tpd = rule("tokensPerDay", 100);
      await store().charge([budget, tpd], { tokens: 30, nanos: 0 }, NOON);
      await store().charge([budget, tpd], { tokens: 0, nanos: usd(0.25) }, NOON);
      expect((await store().peek([budget, tpd], NOON)).map((result) => result.remaining)).toEqual([usd(0.75), 70]);
    });

    test("the end of the month is computed in UTC for every month, leap years and centuries included", async () => {
      const budget = rule("usdPerMonth", 0);
      for (const instant of [
        Date.UTC(2024, 1, 10, 5),
        Date.UTC(2025, 1, 28, 23, 59, 59, 999),
        Date.UTC(2000, 1, 1),
        Date.UTC(2100, 1, 15),
        Date.UTC(2025, 11, 31, 12),
        Date.UTC(2026, 3, 30, 23),
        Date.UTC(1999, 6, 1),
      ]) {
        expect((await store().peek([budget], instant))[0]!.retryAfterMs).toBe(msToWindowEnd("month", instant));
      }
    });
  });
}
