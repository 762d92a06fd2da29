import type { RequestRecord } from "../record";
import { MODEL_SERVED_SEPARATOR, type StoreGroupBy } from "./store";

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

/** A fractional number as stored (a cost); NULL for a missing or non-finite value. */
const real = (value: number | null | undefined): number | null => (value === null || value === undefined || !Number.isFinite(value) ? null : value);

/** What a usage row's column holds. */
export type UsageValue = string | number | null;

/** One column of a usage row: its name, its type in each store, and what of an ended request it holds. */
export interface UsageColumnSpec<Name extends string = string> {
  readonly name: Name;
  /** The column's type in the SQLite file's `usage` table. */
  readonly sqlite: string;
  /** The column's type in PostgreSQL's `cm_proxy_usage`. */
  readonly postgres: string;
  /** A word on what it holds, kept as a comment in the SQLite schema. */
  readonly note?: string;
  readonly of: (record: RequestRecord) => UsageValue;
  /** The schema version that added it (1: there from the start); a file or table made before gets it added, NULL in its old rows. */
  readonly since: number;
}

const column = <const Name extends string>(
  name: Name,
  sqlite: string,
  postgres: string,
  of: (record: RequestRecord) => UsageValue,
  note?: string,
  since = 1,
): UsageColumnSpec<Name> => ({ name, sqlite, postgres, of, since, ...(note !== undefined && { note }) });

/**
 * A usage row as every usage store keeps it: the SQLite file's `usage` table and PostgreSQL's
 * `cm_proxy_usage` are created from this list (columns in this order, with these types), both
 * stores insert in this order, and a row is built from it. One definition, so the stores cannot
 * drift apart, and a new column is one entry here, at the end, with the schema version that adds
 * it (USAGE_SCHEMA_VERSION raised to it): files and tables made before get it added on start
 * (nullable, so their old rows read NULL there).
 */
export const USAGE_COLUMN_SPECS = [
  column("ts", "INTEGER NOT NULL", "BIGINT NOT NULL", (r) => r.startedAt, "arrival, ms since the epoch (UTC)"),
  column("request_id", "TEXT NOT NULL", "TEXT NOT NULL", (r) => r.id),
  column("client", "TEXT", "TEXT", (r) => text(r.clientName), "the client key's name; NULL when the proxy is open"),
  column("user_id", "TEXT", "TEXT", (r) => text(r.user?.id)),
  column("user_email", "TEXT", "TEXT", (r) => text(r.user?.email)),
  column("user_name", "TEXT", "TEXT", (r) => text(r.user?.name)),
  column("model", "TEXT NOT NULL", "TEXT NOT NULL", (r) => text(r.modelRequested) ?? "-", "as the client named it"),
  column("served_model", "TEXT", "TEXT", (r) => text(r.servedModel)),
  column("target", "TEXT", "TEXT", (r) => text(r.servedTarget)),
  column("status", "INTEGER NOT NULL", "INTEGER NOT NULL", (r) => r.status),
  column("outcome", "TEXT NOT NULL", "TEXT NOT NULL", (r) => r.outcome, "ok | client_aborted | upstream_error | timeout"),
  column("prompt_tokens", "INTEGER", "BIGINT", (r) => whole(r.usage?.promptTokens)),
  column("completion_tokens", "INTEGER", "BIGINT", (r) => whole(r.usage?.completionTokens)),
  column("total_tokens", "INTEGER", "BIGINT", (r) => whole(r.usage?.totalTokens)),
  column("ttfb_ms", "INTEGER", "BIGINT", (r) => whole(r.ttfbMs)),
  column("duration_ms", "INTEGER NOT NULL", "BIGINT NOT NULL", (r) => whole(r.durationMs) ?? 0),
  column("cost_usd", "REAL", "DOUBLE PRECISION", (r) => real(r.costUsd), "US dollars; NULL: no usage reported, or no price", 2),
  column("price_source", "TEXT", "TEXT", (r) => r.priceSource, "config | built-in; NULL when unpriced", 2),
  column("key_id", "TEXT", "TEXT", (r) => text(r.clientKeyId), "a runtime client key's id; NULL for a config-file key", 2),
] as const;

/** The newest schema version a column names: what a usage file or table is brought up to on start. */
export const USAGE_SCHEMA_VERSION = Math.max(...USAGE_COLUMN_SPECS.map((spec) => spec.since));

export type UsageColumn = (typeof USAGE_COLUMN_SPECS)[number]["name"];

/** The column names, in the table's order. */
export const USAGE_COLUMNS: readonly UsageColumn[] = USAGE_COLUMN_SPECS.map((spec) => spec.name);

/** One row: a value per column, in USAGE_COLUMNS' order. */
export type UsageRow = UsageValue[];

const columnValues = USAGE_COLUMN_SPECS.map((spec) => spec.of);

/** The row an ended model request becomes. */
export const usageRowOf = (record: RequestRecord): UsageRow => columnValues.map((of) => of(record));

/** The condition that makes a row an error in `/usage`'s `errors` count (same SQL in SQLite and PostgreSQL). */
export const ERROR_CONDITION = "status >= 400 OR outcome <> 'ok'";

/**
 * The SQL expression each grouping groups by. Only the time buckets differ between dialects (the
 * UTC date of `ts` as YYYY-MM-DD, its UTC hour as YYYY-MM-DDTHH); rows without a client, issued
 * key, user or target group under "-".
 */
export const groupKeys = (time: { readonly dayOfTs: string; readonly hourOfTs: string }): Readonly<Record<StoreGroupBy, string>> => ({
  hour: time.hourOfTs,
  day: time.dayOfTs,
  model: "model",
  client: "coalesce(client, '-')",
  configKey: "CASE WHEN key_id IS NULL THEN coalesce(client, '-') ELSE '-' END",
  key: "coalesce(key_id, '-')",
  user: "coalesce(user_id, user_email, '-')",
  target: "coalesce(target, '-')",
  modelServed: `model || '${MODEL_SERVED_SEPARATOR}' || coalesce(served_model, '-')`,
});
