import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../lib/log";
import { BARE_ROW, BARE_SPEC, FULL_ROW, FULL_SPEC, record, recordsMade } from "../../../test/support/usage-records";
import { SqliteUsageStore, type SqliteUsageOptions } from "./sqlite-store";
import { UsageStoreError, usageObserver } from "./store";

const DAY = 24 * 60 * 60 * 1000;
const dir = mkdtempSync(join(tmpdir(), "cm-owp-usage-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
const freshPath = () => join(dir, `usage-${++fileCount}.db`);

class Lines implements Logger {
  readonly lines: string[] = [];
  info = (message: string) => void this.lines.push(`INFO ${message}`);
  warn = (message: string) => void this.lines.push(`WARN ${message}`);
  error = (message: string) => void this.lines.push(`ERROR ${message}`);
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

const everything = { from: 0, to: Date.now() + DAY };

describe("SqliteUsageStore", () => {
  test("a row per record, every field, small: integers for times, text cut to 256", async () => {
    const { store, path } = openStore();
    const before = Date.now();
    store.add(record(FULL_SPEC));
    store.add(record(BARE_SPEC));
    expect(rows(path)).toEqual([]); // queued, not yet written
    await store.flush();
    const written = rows(path);
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({ request_id: `req-${recordsMade() - 1}`, ...FULL_ROW });
    expect(written[0]!.ts as number).toBeGreaterThanOrEqual(before - 1000);
    expect(written[1]).toMatchObject(BARE_ROW);
    expect(store.written).toBe(2);
  });

  test("the observer passes model requests only", async () => {
    const { store, path } = openStore();
    const observer = usageObserver(store);
    observer(record({ model: null })); // /models, /health, admin calls name no model
    observer(record());
    await store.flush();
    expect(rows(path)).toHaveLength(1);
  });

  test("query groups by day, model, client, user and target with exact percentiles", async () => {
    const { store } = openStore();
    const day1 = Date.UTC(2024, 4, 1, 10);
    const day2 = Date.UTC(2024, 4, 2, 23, 59);
    for (let i = 1; i <= 20; i++) store.add(record({ model: "gpt", client: "alice", user: { id: "u1", email: null, name: null }, durationMs: i * 10, startedAt: day1 }));
    store.add(record({ model: "llama", target: "llama#1", client: null, user: { id: null, email: "b@example.com", name: null }, status: 502, outcome: "upstream_error", usage: null, durationMs: 5, startedAt: day2 }));
    store.add(record({ model: "llama", target: null, user: null, status: 200, outcome: "client_aborted", durationMs: 7, startedAt: day2 }));
    store.add(record({ model: "old", startedAt: Date.UTC(2024, 3, 30) })); // outside the range
    const range = { from: Date.UTC(2024, 4, 1), to: Date.UTC(2024, 4, 3) };
    const group = (key: string, requests: number, errors: number, tokens: number, p50Ms: number, p95Ms: number) => ({
      key,
      requests,
      errors,
      promptTokens: 3 * tokens,
      completionTokens: 4 * tokens,
      totalTokens: 7 * tokens,
      p50Ms,
      p95Ms,
    });
    // Queued rows are written before a query reads.
    expect(await store.query(range, "day")).toEqual([group("2024-05-01", 20, 0, 20, 100, 190), group("2024-05-02", 2, 2, 1, 5, 7)]);
    expect(await store.query(range, "model")).toEqual([group("gpt", 20, 0, 20, 100, 190), group("llama", 2, 2, 1, 5, 7)]);
    expect(await store.query(range, "client")).toEqual([group("-", 2, 2, 1, 5, 7), group("alice", 20, 0, 20, 100, 190)]);
    expect(await store.query(range, "user")).toEqual([group("-", 1, 1, 1, 7, 7), group("b@example.com", 1, 1, 0, 5, 5), group("u1", 20, 0, 20, 100, 190)]);
    expect(await store.query(range, "target")).toEqual([group("-", 1, 1, 1, 7, 7), group("gpt#0", 20, 0, 20, 100, 190), group("llama#1", 1, 1, 0, 5, 5)]);
    // `from` included, `to` excluded.
    expect(await store.query({ from: day2, to: day2 + 1 }, "day")).toEqual([group("2024-05-02", 2, 2, 1, 5, 7)]);
    expect(await store.query({ from: day1 + 1, to: day2 }, "day")).toEqual([]);
  });

  test("a full queue drops new rows, counts them and says so once", async () => {
    const { store, path, log } = openStore(freshPath(), { queueSize: 2 });
    for (let i = 0; i < 5; i++) store.add(record());
    expect(store.droppedRows).toBe(3);
    expect(log.lines.filter((line) => line.includes("queue full"))).toHaveLength(1);
    await store.flush();
    expect(rows(path)).toHaveLength(2);
    store.add(record());
    expect(store.droppedRows).toBe(3);
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
      expect(log.lines.filter((line) => line.startsWith("ERROR"))).toEqual([
        expect.stringContaining(`usage store: cannot write to ${path} (database is locked); 2 rows kept in memory`),
      ]);
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    await store.flush();
    expect(store.queued).toBe(0);
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

  test("close writes what waits; later adds are ignored", async () => {
    const { store, path } = openStore();
    store.add(record());
    await store.close();
    store.add(record());
    expect(rows(path)).toHaveLength(1);
    await store.close(); // twice is fine
  });

  test("a corrupt file is a start-up error naming usage.path and why", () => {
    const path = freshPath();
    writeFileSync(path, "this is not a database, just some text that is long enough ".repeat(20));
    expect(() => openStore(path)).toThrow(UsageStoreError);
    expect(() => openStore(path)).toThrow(`config.json: usage.path: cannot use ${path}: it is not a SQLite database, or a corrupt one (file is not a database)`);
  });

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
