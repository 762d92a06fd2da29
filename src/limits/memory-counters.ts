import { windowOf, type Period } from "./calendar";
import { charged } from "./gcra";
import { evaluate, spentIn, spentInWindow, type Counter } from "./evaluate";
import { amountFor, kindOfKey, periodOf, type LimitRule, type Spent } from "./rules";
import type { LimitCounters, RuleResult } from "./counters";

/** How often counters that hold nothing any more are dropped. */
const PRUNE_EVERY_MS = 60_000;

/** Whether a counter holds nothing a fresh one would not: a rate fully recovered, no request in flight, a calendar window gone by. */
function holdsNothing(key: string, counter: Counter, now: number): boolean {
  if (counter.tat !== undefined) return counter.tat <= now;
  if (counter.count !== undefined) return counter.count === 0;
  if (counter.window !== undefined) return counter.window < windowOf(periodOf(kindOfKey(key))!, now);
  return true;
}

/** The embedded default: every counter in this process. Behaves as the Redis store does for one instance. */
export class MemoryCounters implements LimitCounters {
  private readonly counters = new Map<string, Counter>();
  private pruneAt = 0;

  /** How many counters are held (subjects come and go: users, keys, models). */
  get size(): number {
    return this.counters.size;
  }

  async admit(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
    // Users and keys come and go (and a plain user header is whatever a client sends): counters that hold nothing are dropped now and then.
    if (now >= this.pruneAt) this.prune(now);
    const evaluated = rules.map((rule) => evaluate(rule, this.counters.get(rule.key) ?? {}, now, true));
    if (evaluated.every(({ result }) => result.allowed)) {
      for (const { result, next } of evaluated) this.counters.set(result.rule.key, next);
    }
    return evaluated.map(({ result }) => result);
  }

  async release(rules: readonly LimitRule[]): Promise<void> {
    for (const rule of rules) {
      if (rule.kind !== "concurrent") continue;
      const counter = this.counters.get(rule.key);
      if (counter?.count) counter.count--;
    }
  }

  async charge(rules: readonly LimitRule[], spent: Spent, now: number): Promise<void> {
    for (const rule of rules) {
      const amount = amountFor(rule.kind, spent);
      if (amount <= 0) continue;
      const counter = this.counters.get(rule.key) ?? {};
      if (rule.kind === "tpm") this.counters.set(rule.key, { tat: charged(counter.tat ?? 0, now, rule.limit, amount) });
      else this.counters.set(rule.key, spentInWindow(rule, counter, amount, now));
    }
  }

  async peek(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
    return rules.map((rule) => evaluate(rule, this.counters.get(rule.key) ?? {}, now, false).result);
  }

  /**
   * Raises what the counter `key` (a windowed limit's) has spent in the `period` window of `now` to
   * at least `spent`: how a restarted instance learns what it spent before, from the usage store.
   * Never lowers a counter, so it may run while requests are charged.
   */
  raiseSpent(key: string, period: Period, now: number, spent: number): void {
    const window = windowOf(period, now);
    if (spent > spentIn(this.counters.get(key), window)) this.counters.set(key, { window, spent });
  }

  close(): void {}

  private prune(now: number): void {
    this.pruneAt = now + PRUNE_EVERY_MS;
    for (const [key, counter] of this.counters) if (holdsNothing(key, counter, now)) this.counters.delete(key);
  }
}
