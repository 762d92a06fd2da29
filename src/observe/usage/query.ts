import { invalidRequest } from "../../model/errors";
import { DAY_MS, GROUP_BYS, type GroupBy, type UsageGroup, type UsageRange } from "./store";

const MAX_QUOTED = 64;

export interface UsageQuery {
  readonly range: UsageRange;
  readonly groupBy: GroupBy;
  readonly format: "json" | "csv";
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** UTC midnight of a date (month 0-based, day may be 0: the month before's last), any year: Date.UTC reads years 0–99 as 1900–1999. */
function midnight(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date.getTime();
}

const daysIn = (year: number, month: number) => new Date(midnight(year, month, 0)).getUTCDate();

function utcDay(year: string, month: string, day: string): number | null {
  const [y, m, d] = [Number(year), Number(month), Number(day)];
  if (m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return null;
  return midnight(y, m - 1, d);
}

/** Minutes east of UTC from `Z`, `+02`, `+0200` or `+02:00`; null when out of range. */
function offsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || zone === "Z" || zone === "z") return 0;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return null;
  return (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * An ISO 8601 date (`2024-05-01`, UTC midnight; with `endOfDay`, the next midnight, so a date as
 * `to` includes that whole day) or date-time (`2024-05-01T12:30`, seconds, fractions and a zone
 * optional; UTC when no zone is given) in ms since the epoch, or null when it is not one.
 */
export function parseInstant(text: string, endOfDay = false): number | null {
  const date = DATE.exec(text);
  if (date) {
    const day = utcDay(date[1]!, date[2]!, date[3]!);
    return day === null ? null : day + (endOfDay ? DAY_MS : 0);
  }
  const time = DATE_TIME.exec(text);
  if (!time) return null;
  const day = utcDay(time[1]!, time[2]!, time[3]!);
  const [hours, minutes, seconds] = [Number(time[4]), Number(time[5]), Number(time[6] ?? 0)];
  const offset = offsetMinutes(time[8]);
  if (day === null || offset === null || hours > 23 || minutes > 59 || seconds > 59) return null;
  const millis = time[7] ? Math.floor(Number(`0.${time[7]}`) * 1000) : 0;
  return day + ((hours * 60 + minutes - offset) * 60 + seconds) * 1000 + millis;
}

const quoted = (text: string) => `'${text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text}'`;

function instantParam(params: URLSearchParams, name: "from" | "to"): number | null {
  let text = params.get(name);
  if (text === null || text === "") return null;
  // An unencoded "+" in a query string arrives as a space: "…T12:00:00 02:00" meant "+02:00".
  text = text.replace(/([Tt]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}(?::?\d{2})?)$/, "$1+$2");
  const at = parseInstant(text, name === "to");
  if (at === null) {
    throw invalidRequest(`Invalid '${name}': ${quoted(text)} is not an ISO 8601 date (2024-05-01) or date-time (2024-05-01T12:00:00Z)`, name, "invalid_value");
  }
  return at;
}

function choice<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[], fallback: T): T {
  const text = params.get(name);
  if (text === null || text === "") return fallback;
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw invalidRequest(`Invalid '${name}': ${quoted(text)}; expected one of ${allowed.join(", ")}`, name, "invalid_value");
}

/**
 * `/usage`'s query string: `from`/`to` (ISO 8601; default the 24 h before now, or before `to`),
 * `groupBy` (default day) and `format` (json or csv). A bad value is a 400 naming the parameter.
 */
export function parseUsageQuery(params: URLSearchParams, now = Date.now()): UsageQuery {
  const groupBy = choice(params, "groupBy", GROUP_BYS, "day");
  const format = choice(params, "format", ["json", "csv"] as const, "json");
  const to = instantParam(params, "to") ?? now;
  const from = instantParam(params, "from") ?? to - DAY_MS;
  if (from > to) throw invalidRequest("Invalid 'from': it is after 'to'", "from", "invalid_value");
  return { range: { from, to }, groupBy, format };
}

/** A group's request count as counted by the store, before its percentiles are known. */
export type GroupTotals = Omit<UsageGroup, "p50Ms" | "p95Ms">;

/** The 1-based nearest rank of percentile `p` among `n` sorted values. */
export const nearestRank = (p: number, n: number) => Math.max(1, Math.ceil((p * n) / 100));

/**
 * Exact p50/p95 per group from the groups' counts and every (key, duration) pair sorted by key,
 * then duration: one pass, holding nothing but the current group's position.
 */
export function withPercentiles(totals: readonly GroupTotals[], durations: Iterable<readonly [string, number]>): UsageGroup[] {
  const byKey = new Map(totals.map((group) => [group.key, { ...group, p50Ms: 0, p95Ms: 0 }]));
  let current: (GroupTotals & { p50Ms: number; p95Ms: number }) | undefined;
  let currentKey: string | null = null;
  let position = 0;
  let p50Rank = 0,
    p95Rank = 0;
  for (const [key, duration] of durations) {
    if (key !== currentKey) {
      currentKey = key;
      current = byKey.get(key);
      position = 0;
      if (current) [p50Rank, p95Rank] = [nearestRank(50, current.requests), nearestRank(95, current.requests)];
    }
    position++;
    if (!current) continue;
    if (position === p50Rank) current.p50Ms = duration;
    if (position === p95Rank) current.p95Ms = duration;
  }
  return [...byKey.values()];
}

const CSV_COLUMNS = ["key", "requests", "errors", "promptTokens", "completionTokens", "totalTokens", "costUsd", "p50Ms", "p95Ms"] as const;

/** A CSV field: quoted when it needs to be, and never read as a formula by a spreadsheet; empty for null (an unpriced group's cost). */
function csvField(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && text !== "-" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The groups as CSV (RFC 4180, CRLF): a header row, then one row per group, same columns as the JSON (a null cost an empty field). */
export function usageCsv(groups: readonly UsageGroup[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const group of groups) lines.push(CSV_COLUMNS.map((column) => csvField(group[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
