import type { LimitRule } from "./rules";

/** Where one rule stands for one request. */
export interface RuleResult {
  readonly rule: LimitRule;
  readonly allowed: boolean;
  /** Units left after this request (requests, tokens, slots). */
  readonly remaining: number;
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
   * rule and a slot of each concurrent rule. Token rules are only checked (the window must not be full).
   */
  admit(rules: readonly LimitRule[], now: number): Promise<RuleResult[]>;
  /** Frees the concurrency slots an admitted request took. */
  release(rules: readonly LimitRule[]): Promise<void>;
  /** Spends the tokens an answer reported on every token rule. */
  charge(rules: readonly LimitRule[], tokens: number, now: number): Promise<void>;
  /** Where each rule stands now, spending nothing (for /health and the status page). */
  peek(rules: readonly LimitRule[], now: number): Promise<RuleResult[]>;
  close(): void;
}
