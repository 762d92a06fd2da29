// The generic cell rate algorithm over a one-minute window: a limit of L per minute is one unit
// every 60 000 / L ms, with a burst of the whole limit (L requests may arrive at once; the next
// one within the minute is refused). Its only state is the theoretical arrival time (TAT).

export const WINDOW_MS = 60_000;

export interface GcraResult {
  readonly allowed: boolean;
  /** The new TAT when allowed (the caller stores it), else the unchanged one. */
  readonly tat: number;
  /** Units left in the window after this one. */
  readonly remaining: number;
  /** ms until the window is whole again. */
  readonly resetMs: number;
  /** ms until one more unit would be admitted (0 when allowed). */
  readonly retryAfterMs: number;
}

/** Spends `cost` units now, if the window has room for them. A cost of 0 asks whether it is full. */
export function gcra(tat: number, now: number, limit: number, cost: number): GcraResult {
  const interval = WINDOW_MS / limit;
  const base = Math.max(tat, now);
  const next = base + cost * interval;
  // Room for the cost means the window (of WINDOW_MS) holds it; with cost 0 (a token limit asked
  // before the answer) it must have room for one more unit, so reaching a limit exactly refuses the next.
  const allowed = cost > 0 ? next - now <= WINDOW_MS + 1e-9 : base - now <= WINDOW_MS - interval + 1e-9;
  const after = allowed ? next : base;
  return {
    allowed,
    tat: after,
    remaining: Math.max(0, Math.floor((WINDOW_MS - (after - now)) / interval + 1e-9)),
    resetMs: Math.max(0, after - now),
    retryAfterMs: allowed ? 0 : Math.max(0, (cost > 0 ? next : base + interval) - now - WINDOW_MS),
  };
}

/** Tokens are charged after the answer, whatever they come to: the TAT moves on by all of them. */
export function charged(tat: number, now: number, limit: number, tokens: number): number {
  return Math.max(tat, now) + (tokens * WINDOW_MS) / limit;
}
