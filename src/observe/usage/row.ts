import type { RequestRecord } from "../record";
import type { GroupBy } from "./store";

/**
 * A usage row as every usage store keeps it (the SQLite file's `usage` table and PostgreSQL's
 * `cm_proxy_usage` have these columns, in this order), and how `/usage` groups rows: one
 * definition, so the stores cannot drift apart.
 */
export const USAGE_COLUMNS = [
  "ts", // arrival, ms since the epoch (UTC)
  "request_id",
  "client", // the client key's name; NULL when the proxy is open
  "user_id",
  "user_email",
  "user_name",
  "model", // as the client named it
  "served_model",
  "target",
  "status",
  "outcome", // ok | client_aborted | upstream_error | timeout
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "ttfb_ms",
  "duration_ms",
] as const;

export type UsageColumn = (typeof USAGE_COLUMNS)[number];

/** One row, in USAGE_COLUMNS' order. */
export type UsageRow = [
  ts: number,
  requestId: string,
  client: string | null,
  userId: string | null,
  userEmail: string | null,
  userName: string | null,
  model: string,
  servedModel: string | null,
  target: string | null,
  status: number,
  outcome: string,
  promptTokens: number | null,
  completionTokens: number | null,
  totalTokens: number | null,
  ttfbMs: number | null,
  durationMs: number,
];

/** Client-chosen text (model names, Open WebUI's user headers) is cut to this: rows stay small. */
export const MAX_TEXT = 256;

/**
 * Text as stored: empty is NULL, cut to MAX_TEXT. NUL characters go: PostgreSQL's text refuses them
 * (SQLSTATE 22021), and one such row (a model name from a JSON body may hold "\u0000") would sink
 * the whole batch it is sent with. Lone surrogates (a JSON "\ud800", or the cut through a pair)
 * become U+FFFD here, as the drivers would write them anyway: both stores hold the same text.
 */
function text(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === "") return null;
  let clean = value.includes("\u0000") ? value.replaceAll("\u0000", "") : value;
  if (clean.length > MAX_TEXT) clean = clean.slice(0, MAX_TEXT);
  if (!clean.isWellFormed()) clean = clean.toWellFormed();
  return clean === "" ? null : clean;
}

/** A whole number as stored; NULL for a missing or non-finite value, clamped to what every store holds exactly. */
function whole(value: number | null | undefined): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, Math.round(value)));
}

/** The row an ended model request becomes. */
export function usageRowOf(record: RequestRecord): UsageRow {
  const { user, usage } = record;
  return [
    record.startedAt,
    record.id,
    text(record.clientName),
    text(user?.id),
    text(user?.email),
    text(user?.name),
    text(record.modelRequested) ?? "-",
    text(record.servedModel),
    text(record.servedTarget),
    record.status,
    record.outcome,
    whole(usage?.promptTokens),
    whole(usage?.completionTokens),
    whole(usage?.totalTokens),
    whole(record.ttfbMs),
    whole(record.durationMs) ?? 0,
  ];
}

/** The condition that makes a row an error in `/usage`'s `errors` count (same SQL in SQLite and PostgreSQL). */
export const ERROR_CONDITION = "status >= 400 OR outcome <> 'ok'";

/**
 * The SQL expression each grouping groups by. Only the day differs between dialects (`dayOfTs`:
 * the UTC date of `ts` as YYYY-MM-DD); rows without a client, user or target group under "-".
 */
export const groupKeys = (dayOfTs: string): Readonly<Record<GroupBy, string>> => ({
  day: dayOfTs,
  model: "model",
  client: "coalesce(client, '-')",
  user: "coalesce(user_id, user_email, '-')",
  target: "coalesce(target, '-')",
});
