import type { RetryPolicy } from "../model/model";

/** A wait longer than this is never taken: the target is out for that long and the request moves on. */
export const MAX_RETRY_WAIT_MS = 60_000;

/** Full jitter: a random wait in [0, min(maxBackoffMs, backoffMs × 2^(n−1))] before try n+1. */
export function backoffMs(policy: RetryPolicy, triesSoFar: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (triesSoFar - 1));
  return Math.floor(random() * ceiling);
}

/**
 * How long a backend asked us to wait: `retry-after-ms` (milliseconds), else `retry-after` in
 * seconds or as an HTTP date. null when it said nothing usable, or asked for no wait at all (0, a
 * negative number, a date gone by): such an answer is a plain failure, which the breaker counts,
 * not a rest of nothing that would let a failing backend bypass it.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | null {
  const ms = headers.get("retry-after-ms")?.trim();
  if (ms && Number.isFinite(Number(ms))) return positive(Number(ms));
  const after = headers.get("retry-after")?.trim();
  if (!after) return null;
  if (/^\d+(\.\d+)?$/.test(after)) return positive(Number(after) * 1000);
  return positive(Date.parse(after) - now);
}

const positive = (ms: number) => (ms > 0 ? Math.ceil(ms) : null);
