import { charged, utcDay } from "./gcra";
import { evaluate, type Counter } from "./evaluate";
import { spentOnUsage, type LimitRule } from "./rules";
import type { LimitCounters, RuleResult } from "./counters";

/** The embedded default: every counter in this process. Behaves as the Redis store does for one instance. */
export class MemoryCounters implements LimitCounters {
  private readonly counters = new Map<string, Counter>();

  async admit(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
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

  async charge(rules: readonly LimitRule[], tokens: number, now: number): Promise<void> {
    for (const rule of rules) {
      if (!spentOnUsage(rule.kind)) continue;
      const counter = this.counters.get(rule.key) ?? {};
      if (rule.kind === "tpm") counter.tat = charged(counter.tat ?? 0, now, rule.limit, tokens);
      else {
        const today = utcDay(now);
        counter.spent = (counter.day === today ? (counter.spent ?? 0) : 0) + tokens;
        counter.day = today;
      }
      this.counters.set(rule.key, counter);
    }
  }

  async peek(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
    return rules.map((rule) => evaluate(rule, this.counters.get(rule.key) ?? {}, now, false).result);
  }

  close(): void {}
}
