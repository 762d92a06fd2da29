import { describe, expect, test } from "bun:test";
import { dollars, refusal } from "./headers";
import { usdToNanos, type LimitRule } from "./rules";
import type { RuleResult } from "./counters";
import type { LimitKind } from "../model/limits";

const rule = (kind: LimitKind, limit: number): LimitRule => ({ scope: "client", kind, subject: "team-a", limit, key: `client:${kind}:team-a` });
const NOON = Date.UTC(2025, 0, 31, 12);

describe("refusals", () => {
  test("a spent budget is insufficient_quota, renewing at the end of its window, with no rate headers; it outranks a rate refusal", () => {
    const results: RuleResult[] = [
      { rule: rule("rpm", 10), allowed: false, remaining: 0, used: 10, resetMs: 60_000, retryAfterMs: 6_000 },
      { rule: rule("usdPerMonth", usdToNanos(12.5)), allowed: false, remaining: 0, used: 10, resetMs: 43_200_000, retryAfterMs: 43_200_000 },
    ];
    const error = refusal(results, NOON);
    expect([error.status, error.type, error.code]).toEqual([429, "insufficient_quota", "insufficient_quota"]);
    expect(error.message).toBe("Budget spent for the API key 'team-a': $12.50 per month (UTC). It renews at 2025-02-01T00:00:00Z.");
    expect(error.headers).toEqual({ "retry-after": "43200", "retry-after-ms": "43200000", "x-should-retry": "false" });
    expect(error.rule.kind).toBe("usdPerMonth");
  });

  test("of several spent budgets, the one that renews last is named and waited for: the request is refused until then", () => {
    const DAY_LEFT = 43_200_000;
    const MONTH_LEFT = DAY_LEFT + 86_400_000;
    const results: RuleResult[] = [
      { rule: rule("usdPerDay", usdToNanos(5)), allowed: false, remaining: 0, used: usdToNanos(5), resetMs: DAY_LEFT, retryAfterMs: DAY_LEFT },
      { rule: rule("usdPerMonth", usdToNanos(5)), allowed: false, remaining: 0, used: usdToNanos(5), resetMs: MONTH_LEFT, retryAfterMs: MONTH_LEFT },
    ];
    const error = refusal(results, Date.UTC(2025, 0, 30, 12));
    expect(error.rule.kind).toBe("usdPerMonth");
    expect(error.message).toBe("Budget spent for the API key 'team-a': $5.00 per month (UTC). It renews at 2025-02-01T00:00:00Z.");
    expect(error.headers).toMatchObject({ "retry-after": String(MONTH_LEFT / 1000), "retry-after-ms": String(MONTH_LEFT) });
  });

  test("of several refused limits, Retry-After is the longest wait: a spent daily token budget outlasts a full minute", () => {
    const UNTIL_MIDNIGHT = 43_200_000;
    const results: RuleResult[] = [
      { rule: rule("rpm", 10), allowed: false, remaining: 0, used: 10, resetMs: 60_000, retryAfterMs: 6_000 },
      { rule: rule("tokensPerDay", 1000), allowed: false, remaining: 0, used: 1000, resetMs: UNTIL_MIDNIGHT, retryAfterMs: UNTIL_MIDNIGHT },
    ];
    const error = refusal(results, NOON);
    expect(error.rule.kind).toBe("tokensPerDay");
    expect(error.headers).toMatchObject({ "retry-after": String(UNTIL_MIDNIGHT / 1000), "retry-after-ms": String(UNTIL_MIDNIGHT) });
  });

  test("any other limit keeps its rate_limit_exceeded and OpenAI's rate headers", () => {
    const error = refusal([{ rule: rule("rpm", 10), allowed: false, remaining: 0, used: 10, resetMs: 60_000, retryAfterMs: 6_000 }], NOON);
    expect([error.type, error.code]).toEqual(["rate_limit_error", "rate_limit_exceeded"]);
    expect(error.headers).toMatchObject({ "retry-after": "6", "x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "0" });
  });

  test("a wait under a second: Retry-After rounds up to 1 s, retry-after-ms (read first by OpenAI's SDKs) says it exactly", () => {
    const error = refusal([{ rule: rule("rpm", 120), allowed: false, remaining: 0, used: 120, resetMs: 60_000, retryAfterMs: 499.5 }], NOON);
    expect(error.headers).toMatchObject({ "retry-after": "1", "retry-after-ms": "500" });
  });

  test("dollars: cents when whole cents, else as configured", () => {
    expect([dollars(5), dollars(0), dollars(0.1), dollars(1.2), dollars(0.125), dollars(0.0001)]).toEqual([
      "$5.00",
      "$0.00",
      "$0.10",
      "$1.20",
      "$0.125",
      "$0.0001",
    ]);
  });
});
