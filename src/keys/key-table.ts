// Where issued keys live: a table in the usage database (the SQLite file, or PostgreSQL shared by every instance).
import type { KeyChanges, KeyRow } from "./key-row";

/**
 * The key table. Every call may reject (a PostgreSQL server that is away): the callers are admin
 * routes and the background sync, never the request path.
 */
export interface KeyTable {
  /** Where the table is, for log lines: never a URL (it may hold a password). */
  readonly where: string;
  /** Creates the table when missing; rejects when it cannot (the sync retries). */
  ready(): Promise<void>;
  all(): Promise<KeyRow[]>;
  get(id: string): Promise<KeyRow | null>;
  /**
   * Text that changes whenever a row is added or changed (not when only `lastUsedAt` moves): the
   * count of rows and the sum of their versions, which every change raises. Cheap to ask often.
   */
  fingerprint(): Promise<string>;
  /** Rejects with DuplicateKeyName when a key that is not revoked has the name. */
  insert(row: KeyRow): Promise<void>;
  /**
   * The changed row, or null when no key has the id or it is revoked: a revoked key never changes
   * again, so a change racing a revocation cannot bring it back. With `ifDigest`, also null when the
   * key's secret is no longer that one (a rotation racing another). Rejects with DuplicateKeyName on a name in use.
   */
  update(id: string, changes: KeyChanges, now: number, ifDigest?: string): Promise<KeyRow | null>;
  /** Moves `lastUsedAt` forward (never back) for each id; not a change the fingerprint sees. */
  touch(used: ReadonlyMap<string, number>): Promise<void>;
  close(): Promise<void>;
}

export class DuplicateKeyName extends Error {
  constructor(readonly keyName: string) {
    super(`a key named '${keyName}' exists`);
    this.name = "DuplicateKeyName";
  }
}

/** A row's columns as both tables name them, JSON fields as text. */
export const KEY_COLUMNS = {
  id: "id",
  name: "name",
  digest: "digest",
  prefix: "prefix",
  models: "models",
  limits: "limits",
  metadata: "metadata",
  status: "status",
  expiresAt: "expires_at",
  createdAt: "created_at",
  updatedAt: "updated_at",
  lastUsedAt: "last_used_at",
  previousDigest: "previous_digest",
  previousUntil: "previous_until",
} as const satisfies Record<keyof KeyRow, string>;

const JSON_FIELDS = new Set<string>(["models", "limits", "metadata"]);

/** A field's value as a column holds it. */
export function columnValue(field: keyof KeyRow, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (JSON_FIELDS.has(field)) return JSON.stringify(value);
  return value as string | number;
}

/** A row as the table's client returns it (big integers may come back as text) → a KeyRow. */
export function rowOf(columns: Record<string, unknown>): KeyRow {
  const json = (name: string) => (columns[name] === null || columns[name] === undefined ? null : JSON.parse(String(columns[name])));
  const time = (name: string) => (columns[name] === null || columns[name] === undefined ? null : Number(columns[name]));
  return {
    id: String(columns.id),
    name: String(columns.name),
    digest: String(columns.digest),
    prefix: String(columns.prefix),
    models: json("models"),
    limits: json("limits"),
    metadata: json("metadata"),
    status: String(columns.status) as KeyRow["status"],
    expiresAt: time("expires_at"),
    createdAt: Number(columns.created_at),
    updatedAt: Number(columns.updated_at),
    lastUsedAt: time("last_used_at"),
    previousDigest: columns.previous_digest === null ? null : String(columns.previous_digest),
    previousUntil: time("previous_until"),
  };
}

/**
 * The table's columns for a CREATE TABLE, in a dialect's integer type. `version` is raised by every
 * change (the fingerprint sums it); names are unique among the keys that are not revoked.
 */
export const keyTableColumns = (integer: string) => `
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  digest TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  models TEXT,
  limits TEXT,
  metadata TEXT,
  status TEXT NOT NULL,
  expires_at ${integer},
  created_at ${integer} NOT NULL,
  updated_at ${integer} NOT NULL,
  last_used_at ${integer},
  previous_digest TEXT,
  previous_until ${integer},
  version ${integer} NOT NULL`;

/** The SET list and values of an UPDATE (`updated_at` included), each value's placeholder from its 1-based index. */
export function setClause(changes: KeyChanges, now: number, placeholder: (index: number) => string): { sql: string; values: (string | number | null)[] } {
  const parts: string[] = [];
  const values: (string | number | null)[] = [];
  for (const [field, value] of Object.entries({ ...changes, updatedAt: now })) {
    if (value === undefined) continue;
    values.push(columnValue(field as keyof KeyRow, value));
    parts.push(`${KEY_COLUMNS[field as keyof KeyRow]} = ${placeholder(values.length)}`);
  }
  return { sql: parts.join(", "), values };
}

/** The columns and values of an INSERT of `row`. */
export function insertValues(row: KeyRow): { columns: string[]; values: (string | number | null)[] } {
  const fields = Object.keys(KEY_COLUMNS) as (keyof KeyRow)[];
  return { columns: fields.map((field) => KEY_COLUMNS[field]), values: fields.map((field) => columnValue(field, row[field])) };
}

/** The table cannot be reached right now (a PostgreSQL server away, a SQLite file locked): admin calls answer 503. */
export class KeyStoreUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`the key store is unreachable (${reason})`);
    this.name = "KeyStoreUnavailable";
  }
}
