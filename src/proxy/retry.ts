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
 * seconds or as an HTTP date. null when it said nothing usable.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | null {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Math.ceil(Number(ms));
  const after = headers.get("retry-after")?.trim();
  if (!after) return null;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
