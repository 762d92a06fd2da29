import type { Choice } from "./choice";

/** Share of requests sent to a random target so that every target's latency estimate stays fresh. */
export const EXPLORE_SHARE = 0.05;

/**
 * Power of two choices over the latency estimate: of two random targets, the one with the lower
 * EWMA of time to first byte (an unmeasured target counts as fastest, so it gets measured).
 */
export function latency({ candidates, states, random }: Choice) {
  const n = candidates.length;
  if (n === 1) return candidates[0]!;
  const first = Math.floor(random() * n);
  if (random() < EXPLORE_SHARE) return candidates[first]!;
  const second = (first + 1 + Math.floor(random() * (n - 1))) % n;
  const a = candidates[first]!,
    b = candidates[second]!;
  return (states.target(a).ewmaTtfbMs ?? 0) <= (states.target(b).ewmaTtfbMs ?? 0) ? a : b;
}
