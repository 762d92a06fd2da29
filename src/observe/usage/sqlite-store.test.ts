import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogFields, Logger } from "../../lib/log";
import { FULL_ROW, FULL_SPEC, record } from "../../../test/support/usage-records";
import { SqliteUsageStore, type SqliteUsageOptions } from "./sqlite-store";
import { UsageStoreUnavailableError, usageObserver } from "./store";

const DAY = 24 * 60 * 60 * 1000;
const dir = mkdtempSync(join(tmpdir(), "cm-owp-usage-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
const freshPath = () => join(dir, `usage-${++fileCount}.db`);

class Lines implements Logger {
  readonly lines: string[] = [];
  /** Each line's fields, in the order of `lines`: what a JSON log line carries beside its message. */
  readonly fields: (LogFields | undefined)[] = [];
  private push(line: string, fields?: LogFields) {
    this.lines.push(line);
    this.fields.push(fields);
  }
  info = (message: string, fields?: LogFields) => this.push(`INFO ${message}`, fields);
  warn = (message: string, fields?: LogFields) => this.push(`WARN ${message}`, fields);
  error = (message: string, fields?: LogFields) => this.push(`ERROR ${message}`, fields);
}

const open: SqliteUsageStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

function openStore(path = freshPath(), options: Partial<SqliteUsageOptions> = {}) {
  const log = new Lines();
  const store = SqliteUsageStore.open({
    path,
    configFile: join(dir, "config.json"),
    queueSize: 1000,
    retentionDays: () => 90,
    log,
    flushIntervalMs: 60_000, // tests flush explicitly unless they test the timer
    ...options,
  });
  open.push(store);
  return { store, log, path };
}

const rows = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT * FROM usage ORDER BY rowid").all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
};

/**
 * Schema 1 as the first release wrote it, by hand: the files out there hold this text, and the store
 * (which derives its schema from USAGE_COLUMN_SPECS) must open them and create new files the same.
 */
const SCHEMA_1 = `
CREATE TABLE IF NOT EXISTS usage (
  ts INTEGER NOT NULL,             -- arrival, ms since the epoch (UTC)
  request_id TEXT NOT NULL,
  client TEXT,                     -- the client key's name; NULL when the proxy is open
  user_id TEXT,
  user_email TEXT,
  user_name TEXT,
  model TEXT NOT NULL,             -- as the client named it
  served_model TEXT,
  target TEXT,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,           -- ok | client_aborted | upstream_error | timeout
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  ttfb_ms INTEGER,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_ts ON usage (ts);
`;

/** Schema 2 as a new file gets it, by hand: schema 1's text with the cost, price source and key id columns after. */
const SCHEMA_2_TABLE = `CREATE TABLE usage (
  ts INTEGER NOT NULL,             -- arrival, ms since the epoch (UTC)
  request_id TEXT NOT NULL,
  client TEXT,                     -- the client key's name; NULL when the proxy is open
  user_id TEXT,
  user_email TEXT,
  user_name TEXT,
  model TEXT NOT NULL,             -- as the client named it
  served_model TEXT,
  target TEXT,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,           -- ok | client_aborted | upstream_error | timeout
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  ttfb_ms INTEGER,
  duration_ms INTEGER NOT NULL,
  cost_usd REAL,                   -- US dollars; NULL: no usage reported, or no price
  price_source TEXT,               -- config | built-in; NULL when unpriced
  key_id TEXT                      -- a runtime client key's id; NULL for a config-file key
)`;

/** What SQLite knows of a file's schema: the columns (name, type, NOT NULL, order), the indexes, the version. */
function schemaOf(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      columns: db.query("PRAGMA table_info(usage)").all(),
      indexes: db.query("SELECT name, \"unique\", origin, partial FROM pragma_index_list('usage') ORDER BY name").all(),
      indexed: db.query("PRAGMA index_info(usage_ts)").all(),
      version: db.query("PRAGMA user_version").get(),
    };
  } finally {
    db.close();
  }
}

describe("SqliteUsageStore", () => {
  test("a schema-1 file as first written opens, keeps its rows and takes new ones: it is brought to schema 2, the same as a new file", async () => {
    const old = freshPath();
    const db = new Database(old, { create: true });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(SCHEMA_1);
    db.exec("PRAGMA user_version = 1");
    db.query("INSERT INTO usage (ts, request_id, model, status, outcome, prompt_tokens, duration_ms) VALUES (?, 'old', 'gpt', 200, 'ok', 5, 9)").run(
      Date.now(),
    );
    db.close();

    const { store } = openStore(old);
    const full = record(FULL_SPEC);
    store.add(full);
    await store.flush();
    expect(rows(old)).toEqual([
      expect.objectContaining({ request_id: "old", prompt_tokens: 5, duration_ms: 9, cost_usd: null, price_source: null, key_id: null }),
      { ts: full.startedAt, request_id: full.id, ...FULL_ROW },
    ]);
    await store.close();

    const fresh = freshPath();
    await openStore(fresh).store.close();
    expect(schemaOf(old)).toEqual(schemaOf(fresh));
    expect(schemaOf(fresh).version).toEqual({ user_version: 2 });
    const created = new Database(fresh, { readonly: true });
    expect(created.query("SELECT sql FROM sqlite_master WHERE name = 'usage'").get()).toEqual({ sql: SCHEMA_2_TABLE });
    created.close();
  });

  test("a file of a newer schema is refused with a clear reason", () => {
    const newer = freshPath();
    const db = new Database(newer, { create: true });
    db.exec("PRAGMA user_version = 99");
    db.close();
    expect(() => openStore(newer)).toThrow("it was written by a newer version of the proxy (schema 99)");
  });

  test("the observer passes model requests only", async () => {
    const { store, path } = openStore();
    const observer = usageObserver(store);
    observer(record({ model: null })); // /models, /health, admin calls name no model
    observer(record());
    await store.flush();
    expect(rows(path)).toHaveLength(1);
  });

  test("a failed write keeps the rows queued, is logged once and retried at the next flush", async () => {
    const { store, path, log } = openStore();
    const other = new Database(path);
    other.exec("BEGIN EXCLUSIVE"); // another writer holds the file
    try {
      store.add(record());
      store.add(record());
      await store.flush();
      store.add(record());
      await store.flush();
      expect(store.queued).toBe(3);
      // Meanwhile the store says it is down, and an answer that would leave the rows out is refused.
      expect(store.up).toBe(false);
      await expect(store.query({ from: 0, to: Date.now() + 86_400_000 }, "model")).rejects.toBeInstanceOf(UsageStoreUnavailableError);
      expect(log.lines.filter((line) => line.startsWith("ERROR"))).toEqual([
        expect.stringContaining(`usage store: cannot write to ${path} (database is locked); 2 rows kept in memory`),
      ]);
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    await store.flush();
    expect(store.queued).toBe(0);
    expect(store.up).toBeUndefined();
    expect(rows(path)).toHaveLength(3);
    expect(log.lines.at(-1)).toBe(`INFO usage store: writing to ${path} again`);
  });

  test("batchSize rows waiting are written on the next turn of the event loop, not at add", async () => {
    const { store, path } = openStore(freshPath(), { batchSize: 3 });
    store.add(record());
    store.add(record());
    store.add(record());
    expect(store.queued).toBe(3); // add never writes
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.queued).toBe(0);
    expect(rows(path)).toHaveLength(3);
  });

  test("the flush timer writes what waits", async () => {
    const { store, path } = openStore(freshPath(), { flushIntervalMs: 5 });
    store.add(record());
    for (let i = 0; i < 200 && store.written === 0; i++) await Bun.sleep(5); // bounded: 1 s at most
    expect(rows(path)).toHaveLength(1);
  });

  test("prune deletes rows older than retentionDays, at start and when called", async () => {
    const path = freshPath();
    let days = 30;
    const first = openStore(path, { retentionDays: () => days });
    const now = Date.now();
    first.store.add(record({ startedAt: now - 40 * DAY }));
    first.store.add(record({ startedAt: now - 20 * DAY }));
    first.store.add(record({ startedAt: now - 1000 }));
    await first.store.flush();
    expect(await first.store.prune()).toBe(1);
    expect(rows(path).map((row) => row.ts)).toEqual([now - 20 * DAY, now - 1000]);
    expect(first.log.lines).toContain("INFO usage store: pruned 1 rows older than 30 days");
    const pruned = first.log.lines.indexOf("INFO usage store: pruned 1 rows older than 30 days");
    expect(first.log.fields[pruned]).toEqual({ rows: 1, retentionDays: 30, file: path });
    days = 10; // retentionDays is read at every prune (a reload changes it)
    expect(await first.store.prune()).toBe(1);
    expect(rows(path).map((row) => row.ts)).toEqual([now - 1000]);
    await first.store.close();
    // Opening prunes once at start.
    const second = openStore(path, { retentionDays: () => 1, now: () => now + 2 * DAY });
    await second.store.flush();
    for (let i = 0; i < 200 && rows(path).length > 0; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(rows(path)).toEqual([]);
  });

  test("prune works through more rows than one chunk", async () => {
    const { store, path } = openStore(freshPath(), { queueSize: 30_000 });
    const old = Date.now() - 100 * DAY;
    for (let i = 0; i < 25_000; i++) store.add(record({ startedAt: old }));
    store.add(record());
    await store.flush();
    expect(await store.prune()).toBe(25_000);
    expect(rows(path)).toHaveLength(1);
  });

  // A corrupt file: test/usage.test.ts, "a corrupt usage file is a clear start-up error, before anything listens" (the whole message).

  test("a file another process holds locked is a start-up error", () => {
    const path = freshPath();
    const other = new Database(path, { create: true });
    other.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)");
    try {
      expect(() => openStore(path, { lockWaitMs: 20 })).toThrow("it is locked by another process");
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    expect(() => openStore(path)).not.toThrow();
  });

  test("a folder that does not exist is a start-up error", () => {
    expect(() => openStore(join(dir, "missing", "usage.db"))).toThrow("it cannot be opened or created");
  });
});
