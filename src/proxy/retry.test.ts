import { describe, expect, test } from "bun:test";
import { backoffMs, retryAfterMs } from "./retry";

const POLICY = { attempts: 5, backoffMs: 200, maxBackoffMs: 1_000, retryOn: new Set<number>() };

describe("backoff", () => {
  test("full jitter: [0, min(max, base × 2^(n−1))]", () => {
    expect(backoffMs(POLICY, 1, () => 0.999)).toBe(199);
    expect(backoffMs(POLICY, 2, () => 0.999)).toBe(399);
    expect(backoffMs(POLICY, 4, () => 0.999)).toBe(999);
    expect(backoffMs(POLICY, 3, () => 0)).toBe(0);
  });
});

describe("Retry-After", () => {
  const headers = (init: Record<string, string>) => new Headers(init);
  test("retry-after-ms wins, then seconds, then an HTTP date", () => {
    expect(retryAfterMs(headers({ "retry-after-ms": "1500", "retry-after": "9" }))).toBe(1500);
    expect(retryAfterMs(headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(headers({ "retry-after": "0.5" }))).toBe(500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now)).toBe(7000);
  });

  test("nothing usable is null", () => {
    expect(retryAfterMs(headers({}))).toBeNull();
    expect(retryAfterMs(headers({ "retry-after": "soon" }))).toBeNull();
    expect(retryAfterMs(headers({ "retry-after-ms": "soon", "retry-after": "2" }))).toBe(2000);
  });

  test("no wait asked (0, negative, a date gone by) is null: the answer is a plain failure, not a rest of nothing", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    for (const init of <Record<string, string>[]>[
      { "retry-after": "0" },
      { "retry-after": "-1" },
      { "retry-after": "-30" },
      { "retry-after": "Wed, 31 Dec 2025 23:59:59 GMT" },
      { "retry-after": "Thu, 01 Jan 2026 00:00:00 GMT" },
      { "retry-after-ms": "0" },
      { "retry-after-ms": "-3" },
    ]) {
      expect({ init, ms: retryAfterMs(headers(init), now) }).toEqual({ init, ms: null });
    }
  });

  test("a wait however long is read as asked: the rest's bound is the breaker's, the retry's the dispatch's", () => {
    expect(retryAfterMs(headers({ "retry-after": "99999999999" }))).toBe(99_999_999_999_000);
  });
});
