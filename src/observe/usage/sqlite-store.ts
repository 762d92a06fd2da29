import { Database, type Statement } from "bun:sqlite";
import type { RequestRecord } from "../record";
import { NextTurn, pruneOldRows, startStoreTimers, UsageQueue } from "./queue";
import { USAGE_COLUMN_SPECS, USAGE_COLUMNS, USAGE_SCHEMA_VERSION, type UsageColumnSpec } from "./row";
import { UsageQueryThread } from "./sqlite-query-thread";
import { messageOf } from "../../lib/error-message";
import {
  PRUNE_CHUNK,
  UsageStoreError,
  UsageStoreUnavailableError,
  type StoreGroupBy,
  type UsageGroup,
  type UsageRange,
  type UsageStore,
  type UsageStoreOptions,
} from "./store";

/** Rows per transaction; a longer queue is written over several turns of the event loop. */
const MAX_ROWS_PER_WRITE = 5000;

/** A column's line in CREATE TABLE: its definition, then its note as a comment (the file keeps the text). */
const columnLine = ({ name, sqlite, note }: UsageColumnSpec, last: boolean) => {
  const definition = `  ${name} ${sqlite}${last ? "" : ","}`;
  return note === undefined ? definition : `${definition.padEnd(35)}-- ${note}`;
};

/** The `usage` table, from USAGE_COLUMN_SPECS (schema 1's text, with the later columns after it). */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS usage (
${USAGE_COLUMN_SPECS.map((spec, i) => columnLine(spec, i === USAGE_COLUMN_SPECS.length - 1)).join("\n")}
);
CREATE INDEX IF NOT EXISTS usage_ts ON usage (ts);
`;

/** A file of an older schema: the columns added since, appended (its rows hold NULL there). */
function addMissingColumns(db: Database): void {
  const present = new Set((db.query("PRAGMA table_info(usage)").all() as { name: string }[]).map((column) => column.name));
  for (const { name, sqlite } of USAGE_COLUMN_SPECS) if (!present.has(name)) db.exec(`ALTER TABLE usage ADD COLUMN ${name} ${sqlite}`);
}

/** A row's values in USAGE_COLUMNS' order (the rows `usageRowOf` builds). */
const insertOf = (rows: number) =>
  `INSERT INTO usage (${USAGE_COLUMNS.join(", ")}) VALUES ${Array(rows)
    .fill(`(${USAGE_COLUMNS.map(() => "?").join(", ")})`)
    .join(", ")}`;
/**
 * Rows per INSERT statement: a statement call per row costs measurably more CPU under load than one
 * per ROWS_PER_INSERT rows (SQLite allows 32 766 parameters).
 */
const ROWS_PER_INSERT = 64;

/** Why the file cannot be used, in words an operator can act on. */
function openFailure(error: unknown): string {
  const code = (error as { code?: string })?.code;
  switch (code) {
    case "SQLITE_NOTADB":
    case "SQLITE_CORRUPT":
      return `it is not a SQLite database, or a corrupt one (${messageOf(error)}); move it away or set usage.path to another file`;
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return "it is locked by another process (another proxy or a program writing to it)";
    case "SQLITE_CANTOPEN":
      return "it cannot be opened or created (does its folder exist, and may this user write there?)";
    case "SQLITE_READONLY":
    case "SQLITE_PERM":
      return "it is read-only for this user";
    default:
      return messageOf(error);
  }
}

export interface SqliteUsageOptions extends UsageStoreOptions {
  /** The SQLite file (absolute). */
  readonly path: string;
  /** How long opening waits for a lock another process holds (default 2 s). */
  readonly lockWaitMs?: number;
}

/**
 * Usage rows in an embedded SQLite file (WAL). `add` pushes to an in-memory queue; a timer (every
 * `flushIntervalMs`, or soon after `batchSize` rows wait) writes them in one transaction with a
 * prepared statement. A failed write (disk full, lock, I/O error) keeps the rows queued, is logged
 * once, and is retried at the next flush; a full queue drops new rows and counts them. `/usage`
 * queries run on a worker thread with a read-only connection of their own.
 */
export class SqliteUsageStore implements UsageStore {
  private readonly queue: UsageQueue;
  private closed = false;
  private failing = false;
  private readonly writeSoon = new NextTurn(() => this.writeBatch());
  private stopTimers = () => {};
  private readonly queries: UsageQueryThread;
  private readonly insert: Statement;
  private readonly insertMany: Statement;
  private readonly deleteOld: Statement;
  private readonly batchSize: number;
  /** Rows written since the store opened. */
  written = 0;

  private constructor(
    private readonly db: Database,
    private readonly options: SqliteUsageOptions,
  ) {
    this.insert = db.prepare(insertOf(1));
    this.insertMany = db.prepare(insertOf(ROWS_PER_INSERT));
    this.deleteOld = db.prepare(`DELETE FROM usage WHERE rowid IN (SELECT rowid FROM usage WHERE ts < ? LIMIT ${PRUNE_CHUNK})`);
    this.batchSize = options.batchSize ?? 500;
    this.queries = new UsageQueryThread(options.path);
    this.queue = new UsageQueue(options.queueSize, () =>
      options.log.warn(`usage store: queue full (${options.queueSize} rows): dropping new rows until it drains`, {
        file: options.path,
        rows: options.queueSize,
      }),
    );
  }

  /** Opens (creating if needed) the file; throws UsageStoreError when it is corrupt, locked or not writable. */
  static open(options: SqliteUsageOptions): SqliteUsageStore {
    let db: Database | undefined;
    let store: SqliteUsageStore;
    try {
      db = new Database(options.path, { create: true, strict: true });
      db.exec(`PRAGMA busy_timeout = ${options.lockWaitMs ?? 2000}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      const { user_version: version } = db.query("PRAGMA user_version").get() as { user_version: number };
      if (version > USAGE_SCHEMA_VERSION) throw new Error(`it was written by a newer version of the proxy (schema ${version})`);
      db.exec("BEGIN IMMEDIATE"); // a write lock now, not at the first request: a locked file fails here
      db.exec(SCHEMA);
      if (version < USAGE_SCHEMA_VERSION) addMissingColumns(db);
      db.exec(`PRAGMA user_version = ${USAGE_SCHEMA_VERSION}`);
      db.exec("COMMIT");
      store = new SqliteUsageStore(db, options);
      // Writes run on the event loop: never wait for a lock there; a busy file is retried at the next flush.
      db.exec("PRAGMA busy_timeout = 0");
    } catch (error) {
      db?.close(false);
      const reason = error instanceof Error && !("code" in error) ? error.message : openFailure(error);
      throw new UsageStoreError(options.configFile, options.path, reason);
    }
    store.start();
    return store;
  }

  get droppedRows(): number {
    return this.queue.dropped;
  }

  /** Rows waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * False while rows cannot be written (a full disk, a file another process holds): `/health` says
   * so. Otherwise absent: an embedded file is not listed among the stores, as a server is.
   */
  get up(): false | undefined {
    return this.failing ? false : undefined;
  }

  add(record: RequestRecord): void {
    if (this.closed || !this.queue.add(record)) return;
    if (this.queue.length >= this.batchSize && !this.failing) this.writeSoon.request();
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 && this.writeBatch()) {}
  }

  /**
   * Runs on the query thread, after what is queued was written (so it is counted). While rows
   * cannot be written, an answer would leave them out: UsageStoreUnavailableError (a 503) instead.
   */
  async query(range: UsageRange, groupBy: StoreGroupBy): Promise<UsageGroup[]> {
    if (this.closed) throw new Error("the usage store is closed");
    await this.flush();
    if (this.failing && this.queue.length > 0) {
      throw new UsageStoreUnavailableError(`${this.queue.length} usage rows cannot be written to ${this.options.path} yet, and an answer would leave them out`);
    }
    return this.queries.query(range, groupBy);
  }

  /** Deletes rows older than `retentionDays`, a chunk at a time; resolves with how many went. */
  prune(): Promise<number> {
    return pruneOldRows(this.options, {
      deleteChunk: (cutoff) => this.deleteOld.run(cutoff).changes,
      fields: { file: this.options.path },
      stopped: () => this.closed,
      failed: (error) =>
        this.options.log.warn(`usage store: pruning ${this.options.path} failed, retrying at the next prune: ${messageOf(error)}`, {
          file: this.options.path,
          error: messageOf(error),
        }),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.stopTimers();
    this.writeSoon.cancel();
    this.queries.close();
    const lost = this.queue.clear();
    if (lost > 0)
      this.options.log.error(`usage store: ${lost} rows could not be written to ${this.options.path} and are lost`, { file: this.options.path, rows: lost });
    this.db.close(false);
  }

  private start(): void {
    this.stopTimers = startStoreTimers(
      this.options,
      () => this.writeBatch(),
      () => void this.prune(),
    );
    void this.prune();
  }

  /** Writes up to MAX_ROWS_PER_WRITE queued rows in one transaction; true when they were written. */
  private writeBatch(): boolean {
    if (this.closed || this.queue.length === 0) return true;
    const batch = this.queue.head(MAX_ROWS_PER_WRITE);
    const count = batch.length;
    try {
      this.db.exec("BEGIN");
      try {
        let i = 0;
        for (; i + ROWS_PER_INSERT <= count; i += ROWS_PER_INSERT) this.insertMany.run(...batch.slice(i, i + ROWS_PER_INSERT).flat());
        for (; i < count; i++) this.insert.run(...batch[i]!);
        this.db.exec("COMMIT");
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        this.options.log.error(
          `usage store: cannot write to ${this.options.path} (${messageOf(error)}); ${this.queue.length} rows kept in memory (at most ${this.options.queueSize}), retrying at every flush`,
          { file: this.options.path, error: messageOf(error) },
        );
      }
      return false;
    }
    this.queue.shift(count);
    this.written += count;
    if (this.failing) {
      this.failing = false;
      this.options.log.info(`usage store: writing to ${this.options.path} again`, { file: this.options.path });
    }
    if (this.queue.length > 0) this.writeSoon.request();
    return true;
  }
}
