import { gcra, msToUtcMidnight, utcDay } from "./gcra";
import type { LimitRule } from "./rules";
import type { RuleResult } from "./counters";

/** A rule's counter as a store keeps it: a TAT (rates), a count (concurrent), or tokens spent today. */
export interface Counter {
  tat?: number;
  count?: number;
  day?: number;
  spent?: number;
}

/** How long a refused concurrent request should wait before trying again. */
const CONCURRENT_RETRY_MS = 1000;

/**
 * Evaluates one rule against its counter, as admission (`spend`) or as a look. Pure: the memory
 * store applies the returned counter; the Redis script implements the same arithmetic in Lua.
 */
export function evaluate(rule: LimitRule, counter: Counter, now: number, spend: boolean): { result: RuleResult; next: Counter } {
  switch (rule.kind) {
    case "rpm":
    case "tpm": {
      const r = gcra(counter.tat ?? 0, now, rule.limit, rule.kind === "rpm" && spend ? 1 : 0);
      return { result: { rule, ...r }, next: { tat: r.tat } };
    }
    case "concurrent": {
      const count = counter.count ?? 0;
      const allowed = count < rule.limit;
      const after = allowed && spend ? count + 1 : count;
      return {
        result: { rule, allowed, remaining: Math.max(0, rule.limit - after), resetMs: 0, retryAfterMs: allowed ? 0 : CONCURRENT_RETRY_MS },
        next: { count: after },
      };
    }
    case "tokensPerDay": {
      const today = utcDay(now);
      const spent = counter.day === today ? (counter.spent ?? 0) : 0;
      const allowed = spent < rule.limit;
      const untilMidnight = msToUtcMidnight(now);
      return {
        result: { rule, allowed, remaining: Math.max(0, rule.limit - spent), resetMs: untilMidnight, retryAfterMs: allowed ? 0 : untilMidnight },
        next: { day: today, spent },
      };
    }
  }
}
