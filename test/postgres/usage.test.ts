// Usage rows in PostgreSQL (`usage.postgres`), against a real server this file starts (Debian's
// postgresql, a temp cluster on an ephemeral port; see postgres-server.ts) and stops:
//
// - one contract suite run against both stores (SQLite and PostgreSQL): the same records give the
//   same rows and the same `/usage` groups, percentiles included (PostgreSQL's percentile_disc and
//   the SQLite store's nearest rank, for every group size from 1 to 60 and a few larger);
// - the PostgreSQL store itself: its table and index, instances creating it at once, a table dropped
//   under it, the server away and back, a malformed URL;
// - two in-process proxies writing to one table: every request exactly one row, `/usage` on either
//   shows the fleet; PostgreSQL stopped mid-run and started again: no crash, no failed request, a 503
//   from `/usage` and `degraded` from `/health` meanwhile, the queued rows landing after; a proxy
//   started while it is away; a tiny `queueSize` dropping and counting.
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/load";
import { startServer } from "../../src/server/start";
import type { Logger } from "../../src/lib/log";
import type { RequestRecord } from "../../src/observe/record";
import { BARE_ROW, BARE_SPEC, FULL_ROW, FULL_SPEC, record } from "../support/usage-records";
import { PostgresUsageStore, USAGE_TABLE } from "../../src/observe/usage/postgres-store";
import { nearestRank } from "../../src/observe/usage/query";
import { USAGE_COLUMN_SPECS, USAGE_COLUMNS } from "../../src/observe/usage/row";
import { SqliteUsageStore } from "../../src/observe/usage/sqlite-store";
import { STORE_GROUP_BYS, UsageStoreUnavailableError, type GroupBy, type StoreGroupBy, type UsageGroup, type UsageStore } from "../../src/observe/usage/store";
import { CapturingLogger } from "../support/logger";
import { chatBody, expectOpenAIError, postJson } from "../support/http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { endpointFor, makeTempDir, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "../support/proxy";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";
import { startPostgres, type PostgresServer } from "./postgres-server";
import { within } from "../support/events";
import { startTcpRelay, type TcpRelay } from "../support/tcp-relay";

const DAY = 24 * 60 * 60 * 1000;
/** In every URL the proxies get: trust authentication ignores it, and nothing may ever show it. */
const PG_PASSWORD = registerSecret("pg-password-never-logged-0123456789", "usage.postgres password");
const ADMIN_KEY = registerSecret("admin-key-postgres-usage-0123456789", "admin key (postgres usage tests)");
const ALICE_KEY = registerSecret("client-key-alice-pg-0123456789abcdef", "client key alice (postgres usage tests)");
const BOB_KEY = registerSecret("client-key-bob-pg-0123456789abcdef01", "client key bob (postgres usage tests)");
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };

let pg: PostgresServer;
const scratch = mkdtempSync(join(tmpdir(), "cm-owp-pg-usage-"));

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.destroy();
  rmSync(scratch, { recursive: true, force: true });
  removeTempDirs();
});

class Lines implements Logger {
  readonly lines: string[] = [];
  info = (message: string) => void this.lines.push(`INFO ${message}`);
  warn = (message: string) => void this.lines.push(`WARN ${message}`);
  error = (message: string) => void this.lines.push(`ERROR ${message}`);
}

/** Polls `check` (a query against the server) until it holds: rows land on the writer's own timer. */
async function eventually(check: () => Promise<boolean>, label: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${label}`);
    await Bun.sleep(50);
  }
}

type Row = Record<string, string | number | null>;
const NUMERIC = new Set(["ts", "status", "prompt_tokens", "completion_tokens", "total_tokens", "ttfb_ms", "duration_ms", "cost_usd"]);

/** Rows as plain values (PostgreSQL's BIGINTs arrive as strings), sorted by request id. */
const normalized = (rows: Record<string, unknown>[]): Row[] =>
  rows
    .map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([column, value]) => [column, value !== null && NUMERIC.has(column) ? Number(value) : (value as string | null)]),
      ),
    )
    .sort((a, b) => String(a.request_id).localeCompare(String(b.request_id), "en", { numeric: true }));

/** A store under test, and a way to read what it wrote, as the contract suite sees both. */
interface Subject {
  readonly store: UsageStore & { prune(): Promise<number>; readonly queued: number; readonly written: number };
  readonly log: Lines;
  rows(): Promise<Row[]>;
}

interface SubjectOptions {
  /** sqlite: the file to open (default: a new one). */
  path?: string;
  queueSize?: number;
  retentionDays?: number;
  now?: () => number;
}

const CONTRACT_DB = "usage_contract";
let sqliteFiles = 0;

/** What both stores are opened with in the contract tests. */
const storeOptions = (log: Lines, options: SubjectOptions) => ({
  configFile: join(scratch, "config.json"),
  queueSize: options.queueSize ?? 100_000,
  retentionDays: () => options.retentionDays ?? 36_500, // the records date from 2024: a prune at start must not take them
  log,
  flushIntervalMs: 60_000,
  now: options.now,
});

const kinds: Record<"sqlite" | "postgres", (options?: SubjectOptions) => Subject> = {
  sqlite(options = {}) {
    const log = new Lines();
    const path = options.path ?? join(scratch, `contract-${++sqliteFiles}.db`);
    const store = SqliteUsageStore.open({ path, ...storeOptions(log, options) });
    return {
      store,
      log,
      async rows() {
        const db = new Database(path, { readonly: true });
        try {
          return normalized(db.query("SELECT * FROM usage").all() as Record<string, unknown>[]);
        } finally {
          db.close();
        }
      },
    };
  },
  postgres(options = {}) {
    const log = new Lines();
    const store = PostgresUsageStore.open({ url: pg.url(PG_PASSWORD, CONTRACT_DB), ...storeOptions(log, options) });
    return {
      store,
      log,
      async rows() {
        const client = new Bun.SQL(pg.url(undefined, CONTRACT_DB), { max: 1 });
        try {
          return normalized(await client.unsafe(`SELECT * FROM ${USAGE_TABLE}`));
        } finally {
          await client.close();
        }
      },
    };
  },
};

const opened: Subject[] = [];
function open(kind: keyof typeof kinds, options?: SubjectOptions): Subject {
  const subject = kinds[kind](options);
  opened.push(subject);
  return subject;
}

/**
 * Records with known figures: three models, two clients, users by id or email only, errors, a day
 * (and hour) boundary; two priced requests (costs exact in binary, so every sum is too), the rest unpriced.
 */
function mixedRecords(): RequestRecord[] {
  const day1 = Date.UTC(2024, 4, 1, 23, 59, 59, 999);
  const day2 = Date.UTC(2024, 4, 2, 0, 0, 0, 0);
  return [
    record({
      startedAt: day1,
      model: "gpt",
      client: "alice",
      user: { id: "u1", email: "a@x", name: "Ann" },
      durationMs: 100,
      costUsd: 0.5,
      priceSource: "config",
    }),
    record({
      startedAt: day1 - 1000,
      model: "gpt",
      client: "alice",
      user: { id: null, email: "b@x", name: null },
      durationMs: 300,
      status: 502,
      outcome: "upstream_error",
      usage: null,
    }),
    record({
      startedAt: day2,
      model: "llama",
      served: "gpt",
      client: "bob",
      clientKeyId: "key_bob",
      target: "bravo-main",
      durationMs: 50,
      usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30 },
      costUsd: 0.25,
      priceSource: "built-in",
    }),
    record({ startedAt: day2 + 5, model: "llama", client: null, target: null, durationMs: 70, outcome: "client_aborted", ttfbMs: null }),
    record({ startedAt: day2 + 6, model: "Zeta", client: "bob", user: { id: "u1", email: null, name: null }, durationMs: 10, status: 404 }),
    record({ startedAt: day2 + 7, model: "é-model", durationMs: 20 }),
    record({ startedAt: day2 + 8, model: "a-model", durationMs: 30, status: 429 }),
  ];
}
const MIXED_RANGE = { from: Date.UTC(2024, 4, 1), to: Date.UTC(2024, 4, 3) };

const group = (key: string, figures: Partial<UsageGroup>): UsageGroup => ({
  key,
  requests: 1,
  errors: 0,
  promptTokens: 3,
  completionTokens: 4,
  totalTokens: 7,
  costUsd: null,
  p50Ms: 100,
  p95Ms: 100,
  ...figures,
});

/** What /usage (and, for configKey, the budgets' read-back) must answer for mixedRecords(), whichever store holds them. */
const MIXED_EXPECTED: Record<StoreGroupBy, UsageGroup[]> = {
  day: [
    group("2024-05-01", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("2024-05-02", { requests: 5, errors: 3, promptTokens: 22, completionTokens: 36, totalTokens: 58, costUsd: 0.25, p50Ms: 30, p95Ms: 70 }),
  ],
  hour: [
    group("2024-05-01T23", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("2024-05-02T00", { requests: 5, errors: 3, promptTokens: 22, completionTokens: 36, totalTokens: 58, costUsd: 0.25, p50Ms: 30, p95Ms: 70 }),
  ],
  // Bytewise order: "Zeta" before "a-model" before "gpt", "é-model" last. A group with no priced request costs null, not 0.
  model: [
    group("Zeta", { errors: 1, p50Ms: 10, p95Ms: 10 }),
    group("a-model", { errors: 1, p50Ms: 30, p95Ms: 30 }),
    group("gpt", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("llama", { requests: 2, errors: 1, promptTokens: 13, completionTokens: 24, totalTokens: 37, costUsd: 0.25, p50Ms: 50, p95Ms: 70 }),
    group("é-model", { p50Ms: 20, p95Ms: 20 }),
  ],
  client: [
    group("-", { requests: 3, errors: 2, promptTokens: 9, completionTokens: 12, totalTokens: 21, p50Ms: 30, p95Ms: 70 }),
    group("alice", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("bob", { requests: 2, errors: 1, promptTokens: 13, completionTokens: 24, totalTokens: 37, costUsd: 0.25, p50Ms: 10, p95Ms: 50 }),
  ],
  // The config keys' own rows by name: bob's issued key (key_bob) spent under its id, so its row groups under "-".
  configKey: [
    group("-", { requests: 4, errors: 2, promptTokens: 19, completionTokens: 32, totalTokens: 51, costUsd: 0.25, p50Ms: 30, p95Ms: 70 }),
    group("alice", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("bob", { errors: 1, p50Ms: 10, p95Ms: 10 }),
  ],
  // Only issued keys have an id: every other row groups under "-".
  key: [
    group("-", { requests: 6, errors: 4, promptTokens: 15, completionTokens: 20, totalTokens: 35, costUsd: 0.5, p50Ms: 30, p95Ms: 300 }),
    group("key_bob", { promptTokens: 10, completionTokens: 20, totalTokens: 30, costUsd: 0.25, p50Ms: 50, p95Ms: 50 }),
  ],
  user: [
    group("-", { requests: 4, errors: 2, promptTokens: 19, completionTokens: 32, totalTokens: 51, costUsd: 0.25, p50Ms: 30, p95Ms: 70 }),
    group("b@x", { errors: 1, promptTokens: 0, completionTokens: 0, totalTokens: 0, p50Ms: 300, p95Ms: 300 }),
    group("u1", { requests: 2, errors: 1, promptTokens: 6, completionTokens: 8, totalTokens: 14, costUsd: 0.5, p50Ms: 10, p95Ms: 100 }),
  ],
  // The model asked for and the one that served it (gpt, a fallback, served one llama request).
  modelServed: [
    group("Zeta\u001fZeta", { errors: 1, p50Ms: 10, p95Ms: 10 }),
    group("a-model\u001fa-model", { errors: 1, p50Ms: 30, p95Ms: 30 }),
    group("gpt\u001fgpt", { requests: 2, errors: 1, costUsd: 0.5, p50Ms: 100, p95Ms: 300 }),
    group("llama\u001fgpt", { promptTokens: 10, completionTokens: 20, totalTokens: 30, costUsd: 0.25, p50Ms: 50, p95Ms: 50 }),
    group("llama\u001fllama", { errors: 1, p50Ms: 70, p95Ms: 70 }),
    group("é-model\u001fé-model", { p50Ms: 20, p95Ms: 20 }),
  ],
  target: [
    group("-", { errors: 1, p50Ms: 70, p95Ms: 70 }),
    group("bravo-main", { promptTokens: 10, completionTokens: 20, totalTokens: 30, costUsd: 0.25, p50Ms: 50, p95Ms: 50 }),
    group("gpt#0", { requests: 5, errors: 3, promptTokens: 12, completionTokens: 16, totalTokens: 28, costUsd: 0.5, p50Ms: 30, p95Ms: 300 }),
  ],
};

describe("the usage store contract, on both stores", () => {
  beforeAll(() => pg.createDatabase(CONTRACT_DB));
  beforeEach(async () => {
    const client = new Bun.SQL(pg.url(undefined, CONTRACT_DB), { max: 1 });
    await client.unsafe(`DROP TABLE IF EXISTS ${USAGE_TABLE}`);
    await client.close();
  });
  afterEach(async () => {
    for (const subject of opened.splice(0)) await subject.store.close();
  });

  for (const kind of ["sqlite", "postgres"] as const) {
    describe(kind, () => {
      test("a row per record with every field: whole numbers, text cut to 256 and without NUL, missing values NULL", async () => {
        const { store, rows } = open(kind);
        const full = record(FULL_SPEC);
        store.add(full);
        store.add(record(BARE_SPEC));
        store.add(record({ model: "nul\u0000in\u0000name", usage: { promptTokens: Number.POSITIVE_INFINITY, completionTokens: 2.5, totalTokens: 1e300 } }));
        // A lone surrogate (JSON's "\ud800" escape), and a pair the cut at 256 splits: U+FFFD, never invalid UTF-8.
        store.add(record({ model: "lone-\ud800", client: `${"c".repeat(255)}😀` }));
        expect(store.queued).toBe(4); // add only queues; the flush writes
        expect(store.written).toBe(0);
        await store.flush();
        expect(store.written).toBe(4);
        const written = await rows();
        expect(written).toHaveLength(4);
        expect(Object.keys(written[0]!)).toEqual([...USAGE_COLUMNS]);
        expect(written[0]).toMatchObject({ ts: full.startedAt, request_id: full.id, ...FULL_ROW });
        expect(written[1]).toMatchObject(BARE_ROW);
        expect(written[2]).toMatchObject({ model: "nulinname", prompt_tokens: null, completion_tokens: 3, total_tokens: Number.MAX_SAFE_INTEGER });
        expect(written[3]).toMatchObject({ model: "lone-\ufffd", client: `${"c".repeat(255)}\ufffd` });
      });

      test("groups by day, hour, model, client, a config key's own rows, user, target, and model with the model that served it: counts, errors, tokens, costs, nearest-rank p50/p95, keys in bytewise order", async () => {
        const { store } = open(kind);
        for (const r of mixedRecords()) store.add(r);
        for (const groupBy of STORE_GROUP_BYS)
          expect({ groupBy, groups: await store.query(MIXED_RANGE, groupBy) }).toEqual({ groupBy, groups: MIXED_EXPECTED[groupBy] });
      });

      test("a file or table made by the schema-1 code keeps its rows, gains the cost, price source and key id columns, and takes new rows", async () => {
        const old = USAGE_COLUMN_SPECS.filter((spec) => spec.since === 1);
        const names = old.map((spec) => spec.name).join(", ");
        const oldRow = [Date.UTC(2024, 4, 1, 12), "old-1", "alice", null, null, null, "gpt", "gpt", "gpt#0", 200, "ok", 3, 4, 7, 12, 100];
        expect(oldRow).toHaveLength(old.length);
        let path: string | undefined;
        if (kind === "sqlite") {
          path = join(scratch, `schema-1-${++sqliteFiles}.db`);
          const db = new Database(path, { create: true });
          db.exec(`CREATE TABLE usage (${old.map((spec) => `${spec.name} ${spec.sqlite}`).join(", ")}); CREATE INDEX usage_ts ON usage (ts)`);
          db.exec("PRAGMA user_version = 1");
          db.query(`INSERT INTO usage (${names}) VALUES (${old.map(() => "?").join(", ")})`).run(...oldRow);
          db.close();
        } else {
          const client = new Bun.SQL(pg.url(undefined, CONTRACT_DB), { max: 1 });
          await client.unsafe(`CREATE TABLE ${USAGE_TABLE} (${old.map((spec) => `${spec.name} ${spec.postgres}`).join(", ")})`);
          await client.unsafe(`INSERT INTO ${USAGE_TABLE} (${names}) VALUES (${old.map((_, i) => `$${i + 1}`).join(", ")})`, oldRow);
          await client.close();
        }
        const { store, rows } = open(kind, { path });
        const fresh = record({ ...FULL_SPEC, startedAt: Date.UTC(2024, 4, 1, 13) });
        store.add(fresh);
        await store.flush();
        const written = await rows();
        expect(written.map((row) => row.request_id)).toEqual(["old-1", fresh.id]);
        expect(Object.keys(written[0]!)).toEqual([...USAGE_COLUMNS]);
        expect(written[0]).toMatchObject({ client: "alice", prompt_tokens: 3, duration_ms: 100, cost_usd: null, price_source: null, key_id: null });
        expect(written[1]).toMatchObject(FULL_ROW);
        expect(await store.query({ from: Date.UTC(2024, 4, 1), to: Date.UTC(2024, 4, 2) }, "day")).toEqual([
          group("2024-05-01", { requests: 2, promptTokens: 6, completionTokens: 8, totalTokens: 14, costUsd: FULL_ROW.cost_usd, p50Ms: 100, p95Ms: 124 }),
        ]);
        if (path) {
          const db = new Database(path, { readonly: true });
          expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: 2 });
          db.close();
        }
      });

      test("the range includes `from` and excludes `to`; rows still queued are counted", async () => {
        const { store } = open(kind);
        const at = Date.UTC(2024, 6, 1, 12);
        for (const startedAt of [at - 1, at, at + 999, at + 1000]) store.add(record({ startedAt }));
        // No flush: query writes what waits first.
        expect((await store.query({ from: at, to: at + 1000 }, "day")).map((g) => g.requests)).toEqual([2]);
        expect(await store.query({ from: at + 5000, to: at + 6000 }, "model")).toEqual([]);
      });

      test("p50 and p95 are the nearest rank of the sorted durations, for every group size", async () => {
        const { store } = open(kind);
        const sizes = [...Array.from({ length: 60 }, (_, i) => i + 1), 99, 100, 101, 199, 200, 333];
        const expected: UsageGroup[] = [];
        let seed = 7;
        const random = () => (seed = (seed * 48271) % 2147483647) % 5000;
        for (const size of sizes) {
          const durations = Array.from({ length: size }, random);
          for (const durationMs of durations) store.add(record({ model: `m${String(size).padStart(3, "0")}`, durationMs }));
          const sorted = [...durations].sort((a, b) => a - b);
          expected.push(
            group(`m${String(size).padStart(3, "0")}`, {
              requests: size,
              promptTokens: 3 * size,
              completionTokens: 4 * size,
              totalTokens: 7 * size,
              p50Ms: sorted[nearestRank(50, size) - 1]!,
              p95Ms: sorted[nearestRank(95, size) - 1]!,
            }),
          );
        }
        expect(await store.query({ from: 0, to: Date.now() + DAY }, "model")).toEqual(expected);
      });

      test("a full queue drops new rows, counts them and says so once; add never throws", async () => {
        const { store, rows, log } = open(kind, { queueSize: 3 });
        for (let i = 0; i < 5; i++) store.add(record());
        expect(store.droppedRows).toBe(2);
        expect(log.lines.filter((line) => line.includes("queue full"))).toEqual([expect.stringMatching(/^WARN usage store: queue full \(3 rows/)]);
        await store.flush();
        expect(await rows()).toHaveLength(3);
        store.add(record());
        expect(store.droppedRows).toBe(2);
      });

      test("prune deletes rows older than retentionDays, and only those", async () => {
        const now = Date.UTC(2024, 8, 1);
        const { store, rows } = open(kind, { retentionDays: 10, now: () => now });
        for (const age of [11 * DAY, 10 * DAY + 1, 10 * DAY, DAY, 0]) store.add(record({ startedAt: now - age }));
        await store.flush();
        await store.prune();
        expect((await rows()).map((row) => now - Number(row.ts))).toEqual([10 * DAY, DAY, 0]);
      });

      test("close writes what is queued; later adds are ignored", async () => {
        const subject = open(kind);
        subject.store.add(record());
        subject.store.add(record());
        await subject.store.close();
        subject.store.add(record());
        expect(await subject.rows()).toHaveLength(2);
        await subject.store.close(); // twice is fine
      });
    });
  }

  test("the same records give the same rows and the same groups in both stores", async () => {
    const sqlite = open("sqlite");
    const postgres = open("postgres");
    const records = [
      ...mixedRecords(),
      ...Array.from({ length: 50 }, (_, i) => record({ model: i % 3 ? "gpt" : "llama", durationMs: (i * 37) % 101, client: i % 4 ? "alice" : null })),
    ];
    for (const r of records) {
      sqlite.store.add(r);
      postgres.store.add(r);
    }
    await Promise.all([sqlite.store.flush(), postgres.store.flush()]);
    expect(await postgres.rows()).toEqual(await sqlite.rows());
    const everything = { from: 0, to: Date.now() + DAY };
    for (const groupBy of STORE_GROUP_BYS) {
      expect({ groupBy, groups: await postgres.store.query(everything, groupBy) }).toEqual({ groupBy, groups: await sqlite.store.query(everything, groupBy) });
    }
  });
});

describe("PostgresUsageStore", () => {
  const DB = "usage_store";
  beforeAll(() => pg.createDatabase(DB));
  afterEach(async () => {
    if (!pg.running) await pg.start();
    for (const subject of opened.splice(0)) await subject.store.close();
  });

  function openStore(options: { queueSize?: number; url?: string; flushIntervalMs?: number; writeTimeoutMs?: number; idleCheckMs?: number } = {}) {
    const log = new Lines();
    const store = PostgresUsageStore.open({
      url: options.url ?? pg.url(PG_PASSWORD, DB),
      configFile: join(scratch, "config.json"),
      queueSize: options.queueSize ?? 1000,
      retentionDays: () => 90,
      log,
      flushIntervalMs: options.flushIntervalMs ?? 60_000,
      ...(options.writeTimeoutMs !== undefined && { writeTimeoutMs: options.writeTimeoutMs }),
      ...(options.idleCheckMs !== undefined && { idleCheckMs: options.idleCheckMs }),
    });
    opened.push({ store, log, rows: async () => [] });
    return { store, log };
  }

  const count = async (database = DB) => {
    const client = new Bun.SQL(pg.url(undefined, database), { max: 1 });
    try {
      const [{ n }] = await client.unsafe(`SELECT count(*)::int AS n FROM ${USAGE_TABLE}`);
      return n as number;
    } finally {
      await client.close();
    }
  };

  test("creates cm_proxy_usage with the SQLite rows' columns and an index on ts; says where in the log, never the password", async () => {
    const { store, log } = openStore();
    await store.flush();
    const client = new Bun.SQL(pg.url(undefined, DB), { max: 1 });
    try {
      const columns = await client`SELECT column_name FROM information_schema.columns WHERE table_name = ${USAGE_TABLE} ORDER BY ordinal_position`;
      const path = join(scratch, "columns.db");
      await SqliteUsageStore.open({ path, configFile: "c", queueSize: 1, retentionDays: () => 90, log: new Lines() }).close();
      const db = new Database(path, { readonly: true });
      const expected = (db.query("PRAGMA table_info(usage)").all() as { name: string }[]).map((column) => column.name);
      db.close();
      expect(columns.map((row: { column_name: string }) => row.column_name)).toEqual(expected);
      const indexes = await client`SELECT indexdef FROM pg_indexes WHERE tablename = ${USAGE_TABLE}`;
      expect(indexes.map((row: { indexdef: string }) => row.indexdef)).toContainEqual(expect.stringContaining("(ts)"));
    } finally {
      await client.close();
    }
    expect(log.lines).toEqual([`INFO usage store: PostgreSQL at 127.0.0.1:${pg.port}/${DB}, table ${USAGE_TABLE}`]);
    expect(store.up).toBe(true);
  });

  test("several instances starting at once all create the table and write (the advisory lock keeps them from racing)", async () => {
    await pg.createDatabase("usage_race");
    const stores = Array.from({ length: 4 }, () => openStore({ url: pg.url(PG_PASSWORD, "usage_race") }));
    stores.forEach(({ store }, i) => {
      for (let j = 0; j <= i; j++) store.add(record());
    });
    await Promise.all(stores.map(({ store }) => store.flush()));
    expect(await count("usage_race")).toBe(1 + 2 + 3 + 4);
    for (const { log, store } of stores) {
      expect(log.lines.filter((line) => !line.startsWith("INFO"))).toEqual([]);
      expect(store.up).toBe(true);
    }
  });

  test("a table dropped under a running store is created again at the next write", async () => {
    const { store, log } = openStore();
    store.add(record());
    await store.flush();
    const client = new Bun.SQL(pg.url(undefined, DB), { max: 1 });
    await client.unsafe(`DROP TABLE ${USAGE_TABLE}`);
    await client.close();
    store.add(record());
    await store.flush(); // fails: the table is gone (logged once)
    await store.flush(); // creates it, writes
    expect(await count()).toBe(1);
    expect(store.queued).toBe(0);
    expect(log.lines.some((line) => line.includes("42P01"))).toBe(true);
  });

  test("the server away: add keeps queueing, flush resolves, query says unavailable, up is false, logged once; back: the rows land", async () => {
    await pg.createDatabase(DB);
    const { store, log } = openStore({ flushIntervalMs: 50 });
    store.add(record());
    await store.flush();
    await pg.stop();
    for (let i = 0; i < 5; i++) store.add(record());
    await store.flush();
    expect(store.queued).toBe(5);
    expect(store.up).toBe(false);
    await expect(store.query({ from: 0, to: Date.now() + DAY }, "model")).rejects.toBeInstanceOf(UsageStoreUnavailableError);
    for (let i = 0; i < 3; i++) await store.flush(); // three more failed attempts: still one line
    expect(log.lines.filter((line) => line.startsWith("WARN"))).toHaveLength(1);
    expect(log.lines.find((line) => line.startsWith("WARN"))).toContain(`usage store: cannot use PostgreSQL at 127.0.0.1:${pg.port}/${DB}`);
    await pg.start();
    await eventually(async () => store.queued === 0 && store.up, "the queued rows written");
    expect(await count()).toBe(6);
    expect((await store.query({ from: 0, to: Date.now() + DAY }, "model"))[0]!.requests).toBe(6);
    expect(log.lines.filter((line) => line.includes("is back"))).toHaveLength(1);
    expect(log.lines.join("\n")).not.toContain(PG_PASSWORD);
  });

  describe("through a network that fails (a TCP relay)", () => {
    let relay: TcpRelay;
    beforeEach(async () => {
      await pg.createDatabase(DB);
      relay = startTcpRelay(pg.port);
    });
    afterEach(() => relay.stop());
    const viaRelay = () => `postgres://postgres@127.0.0.1:${relay.port}/${DB}`;

    test("a batch whose answer is lost after it committed is sent again and written once", async () => {
      const { store } = openStore({ url: viaRelay() });
      store.add(record());
      await store.flush(); // the table exists, one row in
      for (let i = 0; i < 5; i++) store.add(record());
      relay.dropReply = (text) => text.includes("COMMIT");
      await store.flush(); // committed; the answer never comes back
      await relay.dropped;
      expect(store.queued).toBe(5);
      await store.flush(); // sent again under the same id: nothing written twice
      expect(store.queued).toBe(0);
      expect(await count()).toBe(6);
    });

    test("a cut in the middle of a batch's transaction (its id sent, its COMMIT not): healed, the rows land once, and no connection is left waiting on the id", async () => {
      const { store } = openStore({ url: viaRelay(), writeTimeoutMs: 500 });
      await store.flush(); // the table, no rows yet
      store.add(record());
      store.add(record());
      // Cut just as the server answers the batch id's INSERT: its transaction is open, holding the id.
      relay.blackholeOnReply = (text) => text.includes("INSERT 0 1");
      await within(store.flush(), 5000, "a flush into the cut giving up");
      expect(store.up).toBe(false);
      // The store gave up on that connection and closed it, which the server never hears of.
      await within(relay.severed, 5000, "the store closing the cut connection");
      relay.blackhole = false; // healed; the server still holds the old connection's open transaction
      await eventually(async () => {
        await store.flush();
        return store.queued === 0 && store.up;
      }, "the rows written once the server let go of the cut transaction");
      expect(await count()).toBe(2);
      const client = new Bun.SQL(pg.url(undefined, DB), { max: 1 });
      try {
        const waiting = await client.unsafe(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [DB]);
        expect(waiting[0].n).toBe(0);
      } finally {
        await client.close();
      }
    });

    test("a server cut off by the network (connections open, nothing answered): the write gives up, up turns false; healed, the rows land", async () => {
      const { store, log } = openStore({ url: viaRelay(), writeTimeoutMs: 300 });
      store.add(record());
      await store.flush();
      relay.blackhole = true;
      store.add(record());
      store.add(record());
      await within(store.flush(), 5000, "a flush into the partition giving up");
      expect(store.up).toBe(false);
      expect(store.queued).toBe(2);
      expect(log.lines.filter((line) => line.startsWith("WARN"))).toEqual([expect.stringContaining("no answer within 0.3 s")]);
      relay.blackhole = false;
      relay.resetAll();
      await eventually(async () => {
        await store.flush();
        return store.queued === 0 && store.up;
      }, "the queued rows written once the network is back");
      expect(await count()).toBe(3);
    });

    test("an idle store cut off by the network: its check goes unanswered and up turns false without a row to write", async () => {
      const { store } = openStore({ url: viaRelay(), writeTimeoutMs: 300, idleCheckMs: 200, flushIntervalMs: 50 });
      store.add(record());
      await store.flush();
      expect(store.up).toBe(true);
      relay.blackhole = true;
      await eventually(async () => !store.up, "the idle check giving up on the partitioned server", 4000);
      relay.blackhole = false;
      relay.resetAll();
      await eventually(async () => store.up, "the check answered once the network is back", 4000);
    });
  });

  test("a URL Bun cannot use is a ConfigError naming usage.postgres, without the URL", () => {
    const url = `postgres://u:${PG_PASSWORD}@db.example:99999/x`;
    let error: unknown;
    try {
      openStore({ url });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("usage.postgres: not a usable PostgreSQL URL");
    expect((error as Error).message).not.toContain(PG_PASSWORD);
  });
});

describe("two proxies, one PostgreSQL table", () => {
  const DB = "usage_fleet";
  let backend: MockBackend;
  const proxies: ProxyHandle[] = [];

  function fleetConfig(usage: Record<string, unknown> = {}) {
    return {
      endpoints: {
        // Priced (11 prompt + 7 completion tokens a request: $25 per million requests); llama is not.
        gpt: endpointFor(backend, { actualModelName: "backend-gpt", price: { inputPerMTok: 1, outputPerMTok: 2 } }),
        llama: { targets: [{ name: "bravo-main", url: backend.url, actualModelName: "backend-llama" }] },
      },
      clientKeys: [
        { key: ALICE_KEY, name: "alice" },
        { key: BOB_KEY, name: "bob" },
      ],
      adminKey: ADMIN_KEY,
      usage: { postgres: pg.url(PG_PASSWORD, DB), ...usage },
    };
  }

  async function proxy(usage: Record<string, unknown> = {}, label = `fleet proxy ${proxies.length + 1}`) {
    const handle = await startProxy(fleetConfig(usage), { label });
    proxies.push(handle);
    return handle;
  }

  const completion = (prompt: number, completionTokens: number) => ({
    id: "chatcmpl-1",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
    usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
  });

  /** Sends one chat request; resolves with its request id once its row is queued (the access line is written first). */
  async function chat(handle: ProxyHandle, key: string, model = "gpt"): Promise<string> {
    const response = await postJson(handle.url("/v1/chat/completions"), chatBody(model), { authorization: `Bearer ${key}` });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const id = response.headers.get("x-request-id")!;
    await handle.log.until(() => handle.log.accessLines.some((line) => line.includes(id)), 5000, `the access line of ${id}`);
    return id;
  }

  /** Every row of the fleet's table. */
  async function fleetRows(): Promise<{ request_id: string; client: string; model: string; prompt_tokens: string; status: number }[]> {
    const client = new Bun.SQL(pg.url(undefined, DB), { max: 1 });
    try {
      return await client.unsafe(`SELECT request_id, client, model, prompt_tokens, status FROM ${USAGE_TABLE}`);
    } finally {
      await client.close();
    }
  }

  async function usage(handle: ProxyHandle, groupBy: GroupBy) {
    const response = await fetch(handle.url(`/usage?groupBy=${groupBy}`), { headers: asAdmin });
    expect(response.status).toBe(200);
    return (await response.json()).groups as UsageGroup[];
  }

  const health = async (handle: ProxyHandle) => (await (await fetch(handle.url("/health"))).json()) as { status: string; stores?: Record<string, unknown> };

  beforeAll(async () => {
    backend = startMock("fleet-backend");
    backend.willReply(reply.json(completion(11, 7)));
    await pg.createDatabase(DB);
  });
  afterEach(async () => {
    if (!pg.running) await pg.start();
  });
  afterAll(async () => {
    for (const handle of proxies.splice(0)) await handle.stop();
    await backend.stop();
  });

  test("every request is exactly one row; /usage on either instance shows the fleet's totals", async () => {
    const [a, b] = [await proxy(), await proxy()];
    const ids = [
      ...(await Promise.all(Array.from({ length: 10 }, () => chat(a, ALICE_KEY)))),
      ...(await Promise.all(Array.from({ length: 6 }, () => chat(b, BOB_KEY, "llama")))),
      ...(await Promise.all(Array.from({ length: 4 }, () => chat(b, ALICE_KEY)))),
    ];
    await Promise.all([a.server.usage!.flush(), b.server.usage!.flush()]);
    const rows = await fleetRows();
    expect(rows.map((row) => row.request_id).sort()).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(20);
    for (const handle of [a, b]) {
      expect(await usage(handle, "client")).toEqual([
        {
          key: "alice",
          requests: 14,
          errors: 0,
          promptTokens: 14 * 11,
          completionTokens: 14 * 7,
          totalTokens: 14 * 18,
          costUsd: expect.closeTo(14 * 25e-6, 12),
          p50Ms: expect.any(Number),
          p95Ms: expect.any(Number),
        },
        {
          key: "bob",
          requests: 6,
          errors: 0,
          promptTokens: 66,
          completionTokens: 42,
          totalTokens: 108,
          costUsd: null,
          p50Ms: expect.any(Number),
          p95Ms: expect.any(Number),
        },
      ]);
      expect((await usage(handle, "model")).map((g) => [g.key, g.requests])).toEqual([
        ["gpt", 14],
        ["llama", 6],
      ]);
      expect((await health(handle)).status).toBe("ok");
    }
    // The password is in no log line and masked in /debug.
    const debug = await (await fetch(a.url("/debug"), { headers: asAdmin })).text();
    expect(debug).not.toContain(PG_PASSWORD);
    expect(debug).toContain(`postgres://***@127.0.0.1:${pg.port}/${DB}`);
    for (const handle of [a, b]) expect(handle.log.text).not.toContain(PG_PASSWORD);
  });

  test("PostgreSQL stopped mid-run and started again: every request answered, /usage 503 and /health degraded meanwhile, the queued rows land", async () => {
    const [a, b] = proxies as [ProxyHandle, ProxyHandle];
    const before = (await fleetRows()).length;
    await Promise.all([a.server.usage!.flush(), b.server.usage!.flush()]);
    await pg.stop();
    const during = [
      ...(await Promise.all(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, ALICE_KEY)))),
      ...(await Promise.all(Array.from({ length: 5 }, () => chat(b, BOB_KEY, "llama")))),
    ];
    await a.log.until(() => a.log.lines.some((line) => line.includes("usage store: cannot use")), 10_000, "instance a notices the outage");
    expect(a.server.usage!.up).toBe(false);
    await expectOpenAIError(await fetch(a.url("/usage?groupBy=model"), { headers: asAdmin }), 503, {
      type: "api_error",
      code: "usage_store_unavailable",
      messageIncludes: ["The usage store cannot answer right now"],
    });
    const degraded = await health(a);
    expect(degraded.status).toBe("degraded");
    expect(JSON.stringify(degraded.stores)).toContain("usage");
    // The models keep being served, and /metrics and /health keep answering.
    expect((await fetch(a.url("/metrics"), { headers: asAdmin })).status).toBe(200);
    await pg.start();
    await eventually(async () => (await fleetRows()).length === before + during.length, `${during.length} queued rows landing`);
    await Promise.all([a.server.usage!.flush(), b.server.usage!.flush()]);
    const rows = await fleetRows();
    for (const id of during) expect(rows.filter((row) => row.request_id === id)).toHaveLength(1);
    expect(rows).toHaveLength(before + during.length);
    for (const handle of [a, b]) {
      await eventually(async () => handle.server.usage!.up === true, "the store up again");
      expect((await health(handle)).status).toBe("ok");
      expect((await usage(handle, "client")).map((g) => [g.key, g.requests])).toEqual([
        ["alice", 14 + 8],
        ["bob", 6 + 5],
      ]);
      expect(handle.server.usage!.droppedRows).toBe(0);
      expect(handle.log.lines.filter((line) => line.includes("usage store: cannot use"))).toHaveLength(1);
      expect(handle.log.lines.filter((line) => line.includes("is back"))).toHaveLength(1);
    }
  });

  test("a proxy started while PostgreSQL is away starts and serves; its rows land once it is back", async () => {
    await pg.stop();
    const c = await proxy({}, "fleet proxy (started during an outage)");
    const ids = await Promise.all(Array.from({ length: 3 }, () => chat(c, BOB_KEY)));
    await c.log.until(() => c.log.lines.some((line) => line.includes("usage store: cannot use")), 10_000, "the outage logged");
    expect(c.log.lines.filter((line) => line.includes("usage store: cannot use"))).toHaveLength(1);
    await pg.start();
    await eventually(async () => {
      const rows = await fleetRows();
      return ids.every((id) => rows.some((row) => row.request_id === id));
    }, "the rows of the proxy started during the outage");
  });

  test("a tiny queueSize: while PostgreSQL is away, rows past it are dropped and counted; the rest land", async () => {
    const d = await proxy({ queueSize: 3 }, "fleet proxy (queueSize 3)");
    await d.server.usage!.flush();
    await pg.stop();
    const ids = await Promise.all(Array.from({ length: 5 }, () => chat(d, ALICE_KEY, "llama")));
    expect(d.server.usage!.droppedRows).toBe(2);
    const metrics = await (await fetch(d.url("/metrics"), { headers: asAdmin })).text();
    expect(metrics).toContain("\ncm_proxy_usage_rows_dropped_total 2\n");
    expect(d.log.lines.filter((line) => line.includes("queue full"))).toHaveLength(1);
    await pg.start();
    await eventually(async () => d.server.usage!.up === true && (d.server.usage as PostgresUsageStore).queued === 0, "the 3 queued rows written");
    const rows = await fleetRows();
    expect(ids.filter((id) => rows.some((row) => row.request_id === id))).toHaveLength(3);
  });

  test("a malformed usage.postgres is a start-up error; so is a URL that is not postgres://", async () => {
    const dir = makeTempDir("pg-config");
    const bad = writeConfig(join(dir, "bad.json"), { ...fleetConfig(), usage: { postgres: `postgres://u:${PG_PASSWORD}@db.example:99999/x` } });
    const error = await startServer({
      configPath: bad,
      port: 0,
      hostname: "127.0.0.1",
      log: new CapturingLogger("bad usage.postgres"),
      watchConfig: false,
    }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("usage.postgres: not a valid URL");
    expect((error as Error).message).not.toContain(PG_PASSWORD);
    const mysql = writeConfig(join(dir, "mysql.json"), { ...fleetConfig(), usage: { postgres: "mysql://db.example/x" } });
    await expect(
      startServer({ configPath: mysql, port: 0, hostname: "127.0.0.1", log: new CapturingLogger("mysql usage.postgres"), watchConfig: false }),
    ).rejects.toThrow("usage.postgres: expected a postgres:// or postgresql:// URL");
  });
});

test("no registered secret (the PostgreSQL password included) appears in anything recorded so far", () => {
  expectNoSecretLeaks();
});
