// The calendar windows of the daily and monthly limits, in UTC: a day from 00:00, a month from the
// 1st. Each request's window is computed from its own time, so no reset job exists that could fail.
// limits.lua implements the same arithmetic for the Redis counters.

/** The calendar period a windowed limit counts in. */
export type Period = "day" | "month";

const DAY_MS = 86_400_000;

/** The window `now` falls in, as a number: days since the epoch, or months since January 1970. */
export function windowOf(period: Period, now: number): number {
  if (period === "day") return Math.floor(now / DAY_MS);
  const date = new Date(now);
  return (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
}

/** When the window `now` falls in ends (ms since the epoch): the next 00:00 UTC, or 00:00 UTC of the next 1st. */
export function windowEnd(period: Period, now: number): number {
  if (period === "day") return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/** ms from `now` to the end of its window: when a daily or monthly limit is whole again. */
export const msToWindowEnd = (period: Period, now: number) => windowEnd(period, now) - now;

/** When the window `now` falls in began (ms since the epoch): 00:00 UTC today, or on the 1st. */
export function windowStart(period: Period, now: number): number {
  if (period === "day") return Math.floor(now / DAY_MS) * DAY_MS;
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/** The window `now` falls in, start included and end excluded: the rows a limit of that period counts. */
export const windowRange = (period: Period, now: number) => ({ from: windowStart(period, now), to: windowEnd(period, now) });
