import { describe, expect, test } from "bun:test";
import { charged, gcra, WINDOW_MS } from "./gcra";

/** Sends `n` one-unit requests at `now`, returning how many were allowed and the final TAT. */
function burst(limit: number, n: number, now: number, tat = 0) {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const result = gcra(tat, now, limit, 1);
    if (result.allowed) {
      allowed++;
      tat = result.tat;
    }
  }
  return { allowed, tat };
}

describe("GCRA", () => {
  test("rpm 120: 120 at once are allowed, the 121st within the minute is refused", () => {
    const { allowed, tat } = burst(120, 121, 1_000_000);
    expect(allowed).toBe(120);
    const refused = gcra(tat, 1_000_000, 120, 1);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBe(500); // one emission interval
  });

  test("no boundary doubling: after a full burst, half a minute later only half the limit is back", () => {
    const { tat } = burst(120, 120, 0);
    expect(burst(120, 200, WINDOW_MS / 2, tat).allowed).toBe(60);
  });

  test("remaining and reset count down as units are spent", () => {
    const first = gcra(0, 0, 10, 1);
    expect(first).toMatchObject({ allowed: true, remaining: 9, resetMs: 6_000 });
    const second = gcra(first.tat, 0, 10, 4);
    expect(second).toMatchObject({ allowed: true, remaining: 5, resetMs: 30_000 });
  });

  test("token limits: reaching the limit exactly is allowed, the next request is then refused", () => {
    // tpm 1000: a response of exactly 1000 tokens is charged after the fact...
    const charged = gcra(0, 0, 1000, 1000);
    expect(charged.allowed).toBe(true);
    // ...and the next request asks with cost 0 whether the window is full: it is.
    const next = gcra(charged.tat, 0, 1000, 0);
    expect(next.allowed).toBe(false);
    expect(next.retryAfterMs).toBe(60);
    expect(gcra(charged.tat, 60, 1000, 0).allowed).toBe(true);
  });

  test("a charge over the limit is recorded whole: later requests wait for all of it", () => {
    const tat = charged(0, 0, 100, 250);
    expect(tat).toBe(150_000);
    expect(gcra(tat, 0, 100, 0)).toMatchObject({ allowed: false, retryAfterMs: 90_600 });
  });
});
