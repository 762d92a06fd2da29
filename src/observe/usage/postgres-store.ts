import { SQL } from "bun";
import { ConfigError } from "../../config/load";
import { withDeadline } from "../../lib/deadline";
import { messageOf } from "../../lib/error-message";
import { isOutage, ReplaceablePool, sqlStateOf } from "../../lib/postgres";
import type { RequestRecord } from "../record";
import { NextTurn, pruneOldRows, startStoreTimers, UsageQueue } from "./queue";
import { ERROR_CONDITION, groupKeys, USAGE_COLUMN_SPECS, USAGE_COLUMNS, type UsageColumn, type UsageRow } from "./row";
import { PRUNE_CHUNK, UsageStoreUnavailableError, type StoreGroupBy, type UsageGroup, type UsageRange, type UsageStore, type UsageStoreOptions } from "./store";

/** The one table every proxy instance writes its usage rows to. */
export const USAGE_TABLE = "cm_proxy_usage";

/**
 * The ids of the batches written: a batch whose answer was lost with its connection (committed, or
 * not) is sent again under the same id, and written only if its id is not here yet. Kept a day.
 */
export const BATCHES_TABLE = "cm_proxy_usage_batches";
const BATCH_KEPT_MS = 86_400_000;

/** A parameter per column a row, and PostgreSQL takes at most 65,535 a statement. */
const MAX_ROWS_PER_INSERT = Math.min(2000, Math.floor(65_535 / USAGE_COLUMNS.length));

/**
 * The same columns as the SQLite file's rows, in PostgreSQL's types (both from USAGE_COLUMN_SPECS).
 * Created when missing, by whichever instance comes first: the advisory lock keeps two instances
 * starting together from racing on CREATE TABLE IF NOT EXISTS (which can fail on pg_type).
 * `ts` (ms since the epoch, UTC) is indexed for the time ranges every `/usage` query and every
 * prune select by. A table an older version made gets the columns added since (NULL in its rows).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${USAGE_TABLE} (
  ${USAGE_COLUMN_SPECS.map(({ name, postgres }) => `${name} ${postgres}`).join(",\n  ")}
);
ALTER TABLE ${USAGE_TABLE} ${USAGE_COLUMN_SPECS.filter((spec) => spec.since > 1)
  .map(({ name, postgres }) => `ADD COLUMN IF NOT EXISTS ${name} ${postgres}`)
  .join(", ")};
CREATE INDEX IF NOT EXISTS ${USAGE_TABLE}_ts ON ${USAGE_TABLE} (ts);
COMMENT ON TABLE ${USAGE_TABLE} IS 'cm-open-webui-proxy: one row per model request, from every instance (ts in ms since the epoch, UTC)';
CREATE TABLE IF NOT EXISTS ${BATCHES_TABLE} (id uuid PRIMARY KEY, at bigint NOT NULL);
COMMENT ON TABLE ${BATCHES_TABLE} IS 'cm-open-webui-proxy: ids of the batches of usage rows written, so that one whose answer was lost is not written twice (kept a day)';
`;

/** The UTC day and hour of `ts` as SQLite's strftime gives them (whole seconds, no session time zone involved). */
const utcOfTs = (format: string) => `to_char(TIMESTAMP 'epoch' + (ts / 1000) * INTERVAL '1 second', '${format}')`;
const GROUP_KEYS = groupKeys({ dayOfTs: utcOfTs("YYYY-MM-DD"), hourOfTs: utcOfTs('YYYY-MM-DD"T"HH24') });

/**
 * One statement per grouping. `percentile_disc(p)` is the value at rank ceil(p × n) of the sorted
 * durations: the nearest rank the SQLite store computes. Keys sort bytewise (COLLATE "C"), as SQLite's do.
 */
const queryText = (groupBy: StoreGroupBy) => {
  const key = GROUP_KEYS[groupBy];
  return `SELECT ${key} AS key, count(*) AS requests, count(*) FILTER (WHERE ${ERROR_CONDITION}) AS errors,
    coalesce(sum(prompt_tokens), 0) AS prompt_tokens, coalesce(sum(completion_tokens), 0) AS completion_tokens,
    coalesce(sum(total_tokens), 0) AS total_tokens, sum(cost_usd) AS cost_usd,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
  FROM ${USAGE_TABLE} WHERE ts >= $1 AND ts < $2 GROUP BY 1 ORDER BY (${key}) COLLATE "C"`;
};

interface GroupRow {
  key: string;
  requests: number | string;
  errors: number | string;
  prompt_tokens: number | string;
  completion_tokens: number | string;
  total_tokens: number | string;
  cost_usd: number | string | null;
  p50: number | string;
  p95: number | string;
}

const rowObject = (row: UsageRow): Record<UsageColumn, unknown> => {
  const object = {} as Record<UsageColumn, unknown>;
  for (let i = 0; i < USAGE_COLUMNS.length; i++) object[USAGE_COLUMNS[i]!] = row[i];
  return object;
};

const codeOf = (error: unknown) => (error as { code?: unknown })?.code;

/** Why, in one line: Bun's code, the server's SQLSTATE when there is one, and the message. */
function reasonOf(error: unknown): string {
  const code = codeOf(error);
  const state = sqlStateOf(error);
  return [typeof code === "string" ? code : null, state, messageOf(error)].filter(Boolean).join(": ");
}

/** A row the server refused for what it holds (class 22, data exception; 23, integrity): retrying cannot help. */
const isBadData = (error: unknown) => /^2[23]/.test(sqlStateOf(error) ?? "");
const isMissingTable = (error: unknown) => sqlStateOf(error) === "42P01";

export interface PostgresUsageOptions extends UsageStoreOptions {
  /** `usage.postgres`: a postgres:// URL (it may hold a password: never logged). */
  readonly url: string;
  /** How long `/usage` waits for the server before its 503 (default 10 s). */
  readonly queryTimeoutMs?: number;
  /** How long closing waits to write what is queued (default 5 s). */
  readonly closeTimeoutMs?: number;
  /**
   * How long a write (a batch, the schema, a check) may go unanswered before the server counts as
   * away (default 10 s): a server cut off by the network keeps its connections open and answers nothing.
   */
  readonly writeTimeoutMs?: number;
  /**
   * With nothing to write for this long, the server is asked whether it is there (default 10 s):
   * otherwise an idle proxy would say `up` about a server the network cut off long ago.
   */
  readonly idleCheckMs?: number;
}

/** A batch being written: sent again, with the same id and rows, until it is known written. */
interface Batch {
  readonly id: string;
  readonly count: number;
}

/**
 * Usage rows in one PostgreSQL table, `cm_proxy_usage`, shared by every proxy instance (Bun's
 * built-in SQL client, a pool of two connections). `add` pushes to an in-memory queue; a timer
 * (every `flushIntervalMs`, or soon after `batchSize` rows wait) writes them with multi-row INSERTs,
 * one at a time, off the request path.
 *
 * The server may be away at start or at any time: the proxy keeps serving. Rows stay queued (up to
 * `queueSize`, then new ones are dropped and counted), the outage is logged once, the server is
 * retried at every flush, and what queued lands when it is back. Meanwhile `up` is false
 * (`/health` says degraded) and `query` throws UsageStoreUnavailableError (`/usage` answers 503).
 * A write left unanswered past `writeTimeoutMs` counts as an outage too, and the pool is replaced
 * (its connections may hang on a server the network cut off). Each batch is written under an id in
 * the same transaction, so one sent again after its answer was lost is never written twice.
 */
export class PostgresUsageStore implements UsageStore {
  private readonly queue: UsageQueue;
  /** Rows taken off the queue's front since the store opened (written, or refused by the server): what `flush` waits for. */
  private landed = 0;
  private closing = false;
  private closed = false;
  private reachable = true;
  private schemaReady = false;
  private announced = false;
  /** A connection closed: check at the next turn whether the server is still there. */
  private recheck = false;
  private writing: Promise<boolean> | null = null;
  private readonly writeSoon = new NextTurn(() => void this.turn());
  private stopTimers = () => {};
  private readonly batchSize: number;
  private readonly writeTimeoutMs: number;
  /** The batch under way: kept across failed turns so it is sent again as it was. */
  private batch: Batch | null = null;
  /** Rows written since the store opened. */
  written = 0;
  /** When the server last answered a write or a check (ms since the epoch). */
  private answeredAt = Date.now();

  private constructor(
    private readonly pool: ReplaceablePool,
    private readonly options: PostgresUsageOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.queue = new UsageQueue(options.queueSize, () =>
      options.log.warn(`usage store: queue full (${options.queueSize} rows waiting for ${pool.where}): dropping new rows until it drains`, {
        store: pool.where,
        rows: options.queueSize,
      }),
    );
  }

  /**
   * Starts the store; never waits for the server (one that is away at start only delays the rows).
   * Throws ConfigError when `url` is no PostgreSQL URL Bun can use.
   */
  static open(options: PostgresUsageOptions): PostgresUsageStore {
    let store: PostgresUsageStore | undefined;
    let pool: ReplaceablePool;
    try {
      const url = new URL(options.url);
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error("expected a postgres:// or postgresql:// URL");
      const own = url.searchParams;
      pool = new ReplaceablePool(
        () =>
          new SQL(options.url, {
            // One connection writes (one INSERT at a time), one answers /usage and prunes.
            ...(!own.has("max") && { max: 2 }),
            ...(!own.has("connect_timeout") && { connectionTimeout: 5 }),
            onclose: (error) => store?.connectionClosed(error),
          }),
      );
    } catch (error) {
      // Bun's words, minus the URL should they ever quote it.
      const reason = messageOf(error).replaceAll(options.url, "the URL");
      throw new ConfigError(options.configFile, [`usage.postgres: not a usable PostgreSQL URL (${reason})`]);
    }
    store = new PostgresUsageStore(pool, options);
    store.start();
    return store;
  }

  /** Where the rows go, for log lines: host, port and database, never the URL (it may hold a password). */
  get where(): string {
    return this.pool.where;
  }

  get droppedRows(): number {
    return this.queue.dropped;
  }

  /** Rows waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  /** False from a failed write, query or lost connection until the server answers again. */
  get up(): boolean {
    return this.reachable;
  }

  add(record: RequestRecord): void {
    if (this.closed || !this.queue.add(record)) return;
    if (this.queue.length >= this.batchSize && this.reachable) this.soon();
  }

  async flush(): Promise<void> {
    // A turn under way (the first one creates the table) finishes first, rows or not.
    if (this.writing) await this.writing;
    const goal = this.landed + this.queue.length;
    while (this.landed < goal) {
      if (!(await this.turn())) return;
    }
  }

  async query(range: UsageRange, groupBy: StoreGroupBy): Promise<UsageGroup[]> {
    if (this.closed) throw new Error("the usage store is closed");
    const timeoutMs = this.options.queryTimeoutMs ?? 10_000;
    const work = async () => {
      await this.flush();
      let rows: GroupRow[];
      try {
        rows = await this.pool.sql.unsafe(queryText(groupBy), [range.from, range.to]);
      } catch (error) {
        if (!isOutage(error)) throw error; // a fault in the statement, not the server's absence: a 500 like any other
        this.failed(error);
        throw new UsageStoreUnavailableError(reasonOf(error));
      }
      return rows.map((row) => ({
        key: String(row.key),
        requests: Number(row.requests),
        errors: Number(row.errors),
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
        totalTokens: Number(row.total_tokens),
        costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
        p50Ms: Number(row.p50),
        p95Ms: Number(row.p95),
      }));
    };
    return withDeadline(work(), timeoutMs, () => {
      throw new UsageStoreUnavailableError(`${this.where} did not answer within ${timeoutMs / 1000} s`);
    });
  }

  /** Deletes rows older than `retentionDays` (every instance's: the table is shared), a chunk at a time; resolves with how many went. */
  async prune(): Promise<number> {
    // Batch ids a day old: no batch is sent again that late.
    await this.pool.sql.unsafe(`DELETE FROM ${BATCHES_TABLE} WHERE at < $1`, [Date.now() - BATCH_KEPT_MS]).catch(() => {});
    return pruneOldRows(this.options, {
      deleteChunk: async (cutoff) =>
        (
          await this.pool.sql.unsafe(`DELETE FROM ${USAGE_TABLE} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${USAGE_TABLE} WHERE ts < $1 LIMIT ${PRUNE_CHUNK}))`, [
            cutoff,
          ])
        ).count,
      stopped: () => this.closing,
      // An outage is logged by the writer; anything else is worth a line.
      failed: (error) => {
        if (!isOutage(error))
          this.options.log.warn(`usage store: pruning ${this.where} failed, retrying at the next prune: ${reasonOf(error)}`, {
            store: this.where,
            error: reasonOf(error),
          });
      },
      from: this.where,
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTimers();
    this.writeSoon.cancel();
    await withDeadline(this.flush(), this.options.closeTimeoutMs ?? 5000, () => undefined);
    this.closed = true;
    const lost = this.queue.clear();
    if (lost > 0) this.options.log.error(`usage store: ${lost} rows could not be written to ${this.where} and are lost`, { store: this.where, rows: lost });
    await this.pool.close();
  }

  private start(): void {
    const idleCheckMs = this.options.idleCheckMs ?? 10_000;
    const write = () => {
      if (this.reachable && Date.now() - this.answeredAt > idleCheckMs) this.recheck = true;
      if (this.queue.length > 0 || !this.reachable || !this.schemaReady || this.recheck) void this.turn();
    };
    this.stopTimers = startStoreTimers(this.options, write, () => void this.prune());
    void this.turn(); // creates the table now, and says in the log whether the server is there
  }

  private soon(): void {
    if (this.writing === null && !this.closing) this.writeSoon.request();
  }

  /** One writer turn at a time; resolves true when what it tried went through. Never rejects. */
  private turn(): Promise<boolean> {
    if (this.writing) return this.writing;
    this.writing = this.runTurn().finally(() => {
      this.writing = null;
      if (this.queue.length > 0 && this.reachable) this.soon();
    });
    return this.writing;
  }

  /** Creates the table if needed, then writes up to MAX_ROWS_PER_INSERT queued rows (or, with none, checks the server is back). */
  private async runTurn(): Promise<boolean> {
    if (this.closed) return false;
    try {
      if (!this.schemaReady) {
        await this.answered(
          this.pool.sql.begin(async (tx) => {
            await tx`SELECT pg_advisory_xact_lock(hashtext(${USAGE_TABLE}))`;
            await tx.unsafe(SCHEMA);
          }),
        );
        this.schemaReady = true;
        if (!this.announced) {
          this.announced = true;
          this.options.log.info(`usage store: ${this.where}, table ${USAGE_TABLE}`, { store: this.where, table: USAGE_TABLE });
        }
        void this.prune();
      }
      const count = this.batch?.count ?? Math.min(this.queue.length, MAX_ROWS_PER_INSERT);
      if (count === 0) {
        if (!this.reachable || this.recheck) {
          this.recheck = false;
          await this.answered(this.pool.sql`SELECT 1`);
        }
        this.recovered();
        return true;
      }
      const batch = (this.batch ??= { id: crypto.randomUUID(), count });
      try {
        await this.answered(this.writeBatch(batch, this.queue.head(count)));
        this.batch = null;
        this.written += count;
        this.recovered(); // before the shift: its log line counts the rows that waited
        this.queue.shift(count);
      } catch (error) {
        if (!isBadData(error)) throw error;
        // Rows are built to fit (text cut, no NUL, whole numbers): should the server still refuse them, they must not block the rest.
        this.batch = null;
        this.queue.discard(count);
        this.options.log.error(`usage store: ${this.where} refused ${count} rows, dropped: ${reasonOf(error)}`, {
          store: this.where,
          rows: count,
          error: reasonOf(error),
        });
      }
      this.landed += count;
      this.recovered();
      return true;
    } catch (error) {
      if (isMissingTable(error)) this.schemaReady = false; // dropped under us: created again at the next turn
      this.failed(error);
      return false;
    }
  }

  /** A batch's rows, written with its id in one transaction; nothing when the id is there already (written before, the answer lost). */
  private async writeBatch(batch: Batch, rows: UsageRow[]): Promise<void> {
    const ms = this.writeTimeoutMs;
    await this.pool.sql.begin(async (tx) => {
      // A connection the network cut off mid-transaction would hold the batch id's lock until TCP
      // gives up (hours), and every retry would wait on it: the server ends such a transaction, and
      // a retry that finds the id locked gives up, within the write timeout.
      await tx.unsafe(`SET LOCAL idle_in_transaction_session_timeout = ${ms}; SET LOCAL lock_timeout = ${ms}`);
      const [fresh] = await tx`INSERT INTO ${tx(BATCHES_TABLE)} (id, at) VALUES (${batch.id}, ${Date.now()}) ON CONFLICT (id) DO NOTHING RETURNING id`;
      if (fresh) await tx`INSERT INTO ${tx(USAGE_TABLE)} ${tx(rows.map(rowObject), ...USAGE_COLUMNS)}`;
    });
  }

  /**
   * `work`, unless it goes unanswered past the write timeout: then the server counts as away, and
   * the pool (whose connections may hang on a server the network cut off) is replaced.
   */
  private async answered<T>(work: Promise<T>): Promise<T> {
    const ms = this.writeTimeoutMs;
    const answer = await this.pool.answered(work, ms, () => new Error(`no answer within ${ms / 1000} s`));
    this.answeredAt = Date.now();
    return answer;
  }

  private failed(error: unknown): void {
    if (this.closed || !this.reachable) return;
    this.reachable = false;
    this.options.log.warn(
      `usage store: cannot use ${this.where} (${reasonOf(error)}); usage rows queue in memory (${this.queue.length} now, at most ${this.options.queueSize}) until the server answers again, retried every ${(this.options.flushIntervalMs ?? 1000) / 1000} s; /usage answers 503 meanwhile`,
      { store: this.where, error: reasonOf(error), rows: this.queue.length },
    );
  }

  private recovered(): void {
    if (this.reachable) return;
    this.reachable = true;
    this.options.log.info(`usage store: ${this.where} is back; writing the ${this.queue.length} rows queued meanwhile`, {
      store: this.where,
      rows: this.queue.length,
    });
  }

  /**
   * A pooled connection closed (or failed to open). Unless it idled out or we closed it, the server
   * may have gone away: a turn checks now, so `up` turns false without waiting for the next row.
   */
  private connectionClosed(error: Error | null): void {
    const code = codeOf(error);
    if (this.closing || code === "ERR_POSTGRES_IDLE_TIMEOUT" || code === "ERR_POSTGRES_LIFETIME_TIMEOUT") return;
    if (this.reachable) {
      this.recheck = true;
      this.soon();
    }
  }
}
