import { ConfigError } from "../../config/load";
import type { Logger } from "../../lib/log";
import type { RequestRecord } from "../record";

export const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per statement when pruning: a large prune never holds the database long. */
export const PRUNE_CHUNK = 10_000;

/** What `/usage` groups rows by. */
export const GROUP_BYS = ["day", "hour", "model", "client", "user", "target", "key"] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/**
 * What a store groups rows by: `/usage`'s groupings, and two the budgets read back at start:
 * `configKey`, the rows of config keys by name with those of issued keys left out (an issued key
 * may carry a config key's name, and counts under its id), and `modelServed`, the model as the
 * client named it and the model that served it (a fallback spends under both), joined by
 * MODEL_SERVED_SEPARATOR.
 */
export const STORE_GROUP_BYS = [...GROUP_BYS, "configKey", "modelServed"] as const;
/** Between the two models of a `modelServed` group's key: a control character no model id holds. */
export const MODEL_SERVED_SEPARATOR = "\u001f";
export type StoreGroupBy = (typeof STORE_GROUP_BYS)[number];

/** A time range in ms since the epoch: `from` included, `to` excluded. */
export interface UsageRange {
  readonly from: number;
  readonly to: number;
}

/** One line of a `/usage` answer. */
export interface UsageGroup {
  readonly key: string;
  readonly requests: number;
  /** Requests that ended with a status >= 400 or an outcome other than `ok`. */
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** The sum of the group's costs in US dollars; null when none of its requests was priced (never a silent 0). */
  readonly costUsd: number | null;
  /** Exact nearest-rank percentiles of the duration, in ms. */
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/**
 * Where usage rows go: one per ended model request. `add` only queues (it runs on the request
 * path: no disk, no network, never throws); writes happen in batches off the request path. The
 * SQLite file and the PostgreSQL table implement it, and one contract suite runs against both.
 */
export interface UsageStore {
  add(record: RequestRecord): void;
  /** Groups of the rows in `range` (rows still queued included), ordered by key. */
  query(range: UsageRange, groupBy: StoreGroupBy): Promise<UsageGroup[]>;
  /** Writes what is queued now; resolves when it is written or the write failed (the rows then stay queued). */
  flush(): Promise<void>;
  /** Rows dropped because the queue was full, or refused for good (`cm_proxy_usage_rows_dropped_total`). */
  readonly droppedRows: number;
  /** Writes what is queued, then closes; later `add`s are ignored. */
  close(): Promise<void>;
  /**
   * False while the store cannot take rows (PostgreSQL unreachable, the SQLite file not writable):
   * `/health` then says degraded. Absent for an embedded file that takes them (not listed as a store).
   */
  readonly up?: boolean;
}

/** What every usage store is told: where rows go is each one's own (a file, a server). */
export interface UsageStoreOptions {
  /** The config file, named in a start-up error. */
  readonly configFile: string;
  /** Rows held in memory at most (while a write fails, too); more are dropped and counted. */
  readonly queueSize: number;
  /** Rows older than this many days are pruned (read at every prune, so a reload applies). */
  readonly retentionDays: () => number;
  readonly log: Logger;
  /** How often queued rows are written (default 1 s). */
  readonly flushIntervalMs?: number;
  /** Write at once when this many rows wait (default 500). */
  readonly batchSize?: number;
  /** How often old rows are pruned, besides once at start (default 24 h). */
  readonly pruneIntervalMs?: number;
  readonly now?: () => number;
}

/** The usage file cannot be used (corrupt, locked, not writable): a start-up error naming `usage.path`. */
export class UsageStoreError extends ConfigError {
  constructor(configFile: string, usagePath: string, reason: string) {
    super(configFile, [`usage.path: cannot use ${usagePath}: ${reason}`]);
    this.name = "UsageStoreError";
  }
}

/** `query` could not reach the store's server (or it did not answer in time): `/usage` answers 503. */
export class UsageStoreUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`the usage store is unreachable (${reason})`);
    this.name = "UsageStoreUnavailableError";
  }
}

/** The observer that hands every ended model request (not /models, /health or admin calls) to `store`. */
export const usageObserver = (store: UsageStore) => (record: RequestRecord) => {
  if (record.isModelRequest) store.add(record);
};
