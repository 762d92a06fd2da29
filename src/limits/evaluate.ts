import { msToWindowEnd, windowOf } from "./calendar";
import { gcra } from "./gcra";
import { periodOf, type LimitRule } from "./rules";
import type { RuleResult } from "./counters";

/**
 * A rule's counter as a store keeps it: a TAT (rates), a count (concurrent), or what was spent in a
 * calendar window (tokens per day, nano-dollars per day or month) and which window that was.
 */
export interface Counter {
  tat?: number;
  count?: number;
  window?: number;
  spent?: number;
}

/** What a windowed counter holds for `window`: a counter of an earlier window holds nothing for it. */
export const spentIn = (counter: Counter | undefined, window: number) => (counter?.window === window ? (counter.spent ?? 0) : 0);

/** How long a refused concurrent request should wait before trying again. */
const CONCURRENT_RETRY_MS = 1000;

/**
 * Evaluates one rule against its counter, as admission (`spend`) or as a look. Pure: the memory
 * store applies the returned counter; the Redis script implements the same arithmetic in Lua.
 * Every windowed limit has one rule, `spent < limit`: a limit of 0 admits nothing, and the request
 * whose charge reaches the limit was admitted while it was below it, so the next one is refused.
 */
export function evaluate(rule: LimitRule, counter: Counter, now: number, spend: boolean): { result: RuleResult; next: Counter } {
  switch (rule.kind) {
    case "rpm":
    case "tpm": {
      const r = gcra(counter.tat ?? 0, now, rule.limit, rule.kind === "rpm" && spend ? 1 : 0);
      return { result: { rule, ...r, used: rule.limit - r.remaining }, next: { tat: r.tat } };
    }
    case "concurrent": {
      const count = counter.count ?? 0;
      const allowed = count < rule.limit;
      const after = allowed && spend ? count + 1 : count;
      return {
        result: { rule, allowed, remaining: Math.max(0, rule.limit - after), used: after, resetMs: 0, retryAfterMs: allowed ? 0 : CONCURRENT_RETRY_MS },
        next: { count: after },
      };
    }
    case "tokensPerDay":
    case "usdPerDay":
    case "usdPerMonth": {
      const period = periodOf(rule.kind)!;
      const window = windowOf(period, now);
      const spent = spentIn(counter, window);
      const allowed = spent < rule.limit;
      const untilEnd = msToWindowEnd(period, now);
      return {
        result: { rule, allowed, remaining: Math.max(0, rule.limit - spent), used: spent, resetMs: untilEnd, retryAfterMs: allowed ? 0 : untilEnd },
        // Spent by the charge that comes with the usage, never by the admission.
        next: counter,
      };
    }
  }
}

/**
 * A windowed counter after `amount` more is spent at `now` (a new window starts from 0). A charge
 * dated in a window the counter has already left (an instance whose clock is behind, near 00:00
 * UTC or stuck at 1970 before NTP; a clock stepped back) is dropped: that window is over, and the
 * counter holds a later one's spend. Clocks must agree (NTP): one far ahead would move the counter
 * into its own window, and the others' charges would be dropped until theirs gets there.
 */
export function spentInWindow(rule: LimitRule, counter: Counter, amount: number, now: number): Counter {
  const window = windowOf(periodOf(rule.kind)!, now);
  if (counter.window !== undefined && counter.window > window) return counter;
  return { window, spent: spentIn(counter, window) + amount };
}
