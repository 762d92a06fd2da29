import type { LimitRule, Spent } from "./rules";

/** Where one rule stands for one request. */
export interface RuleResult {
  readonly rule: LimitRule;
  readonly allowed: boolean;
  /** Units left after this request (requests, tokens, slots, nano-dollars). */
  readonly remaining: number;
  /**
   * Units spent in the window (with this request's): for a daily or monthly limit, all that was
   * charged, which passes the limit by what was in flight when it was reached.
   */
  readonly used: number;
  /** ms until the limit is whole again. */
  readonly resetMs: number;
  /** ms until a refused request would be admitted. */
  readonly retryAfterMs: number;
}

/**
 * The counters behind the limits. Memory (one instance) and Redis (every instance sharing one
 * view) implement the same contract, tested with the same tests; each call is one atomic step
 * (one round trip to Redis).
 */
export interface LimitCounters {
  /**
   * Checks every rule at once. Only when all admit is anything spent: a request unit of each rpm
   * rule and a slot of each concurrent rule. Token rules and budgets are only checked (the window
   * must not be full, the budget not spent).
   */
  admit(rules: readonly LimitRule[], now: number): Promise<RuleResult[]>;
  /** Frees the concurrency slots an admitted request took. */
  release(rules: readonly LimitRule[]): Promise<void>;
  /** Spends what an answer reported: its tokens on every token rule, its cost on every budget. */
  charge(rules: readonly LimitRule[], spent: Spent, now: number): Promise<void>;
  /** Where each rule stands now, spending nothing (for /health and the status page). */
  peek(rules: readonly LimitRule[], now: number): Promise<RuleResult[]>;
  close(): void;
}
