import type { LogFields } from "../../lib/log";
import type { RequestRecord } from "../record";
import { usageRowOf, type UsageRow } from "./row";
import { DAY_MS, PRUNE_CHUNK, type UsageStoreOptions } from "./store";

/**
 * The rows a usage store has yet to write (the SQLite and PostgreSQL stores share it). Bounded, so
 * a store that cannot write never grows the proxy's memory without end: past `size`, new rows are
 * dropped and counted (`cm_proxy_usage_rows_dropped_total`), and `onOverflow` is told once per
 * overflow, again only after the queue had room.
 */
export class UsageQueue {
  private rows: UsageRow[] = [];
  private droppedRows = 0;
  private overflowing = false;

  constructor(
    private readonly size: number,
    private readonly onOverflow: () => void,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  /** Rows dropped since the store opened: at a full queue, or refused for good by the store. */
  get dropped(): number {
    return this.droppedRows;
  }

  /** Queues the record's row; false when the queue is full and it was dropped. */
  add(record: RequestRecord): boolean {
    if (this.rows.length >= this.size) {
      this.droppedRows++;
      if (!this.overflowing) {
        this.overflowing = true;
        this.onOverflow();
      }
      return false;
    }
    this.rows.push(usageRowOf(record));
    return true;
  }

  /** The first `count` rows (fewer when fewer wait); they stay queued until `shift` or `discard`. */
  head(count: number): UsageRow[] {
    return this.rows.slice(0, count);
  }

  /** Takes the first `count` rows off the queue: they were written. */
  shift(count: number): void {
    this.rows = count >= this.rows.length ? [] : this.rows.slice(count);
    if (this.rows.length < this.size) this.overflowing = false;
  }

  /** Takes the first `count` rows off the queue as dropped: the store refused them and a retry cannot help. */
  discard(count: number): void {
    this.droppedRows += Math.min(count, this.rows.length);
    this.shift(count);
  }

  /** Empties the queue (the store is closing); returns how many rows were lost. */
  clear(): number {
    const lost = this.rows.length;
    this.rows = [];
    return lost;
  }
}

/** Runs a task once at the next turn of the event loop, however often it is asked for before then. */
export class NextTurn {
  private handle: ReturnType<typeof setImmediate> | null = null;

  constructor(private readonly task: () => void) {}

  request(): void {
    if (this.handle !== null) return;
    this.handle = setImmediate(() => {
      this.handle = null;
      this.task();
    });
  }

  cancel(): void {
    if (this.handle !== null) clearImmediate(this.handle);
    this.handle = null;
  }
}

/** How a store deletes its old rows; `pruneOldRows` runs the loop. */
export interface Pruning {
  /** Deletes at most PRUNE_CHUNK rows older than `cutoff` (ms since the epoch); resolves how many went. */
  deleteChunk(cutoff: number): number | Promise<number>;
  /** The store is closing: no further chunk. */
  stopped(): boolean;
  /** A chunk failed: the prune ends there, and is tried again at the next one. */
  failed(error: unknown): void;
  /** Named in the log line after the number pruned (" from …", and as its `store` field), when the store has a place to name. */
  from?: string;
  /** Further fields of that line (the SQLite store's file). */
  fields?: LogFields;
}

/**
 * Deletes rows older than `retentionDays`, a chunk at a time with the event loop free in between,
 * so a large prune never holds the database or the requests long; resolves with how many went.
 */
export async function pruneOldRows(options: UsageStoreOptions, pruning: Pruning): Promise<number> {
  const now = options.now ?? Date.now;
  const cutoff = now() - options.retentionDays() * DAY_MS;
  let deleted = 0;
  while (!pruning.stopped()) {
    let changes: number;
    try {
      changes = await pruning.deleteChunk(cutoff);
    } catch (error) {
      pruning.failed(error);
      break;
    }
    deleted += changes;
    if (changes < PRUNE_CHUNK) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (deleted > 0) {
    const retentionDays = options.retentionDays();
    options.log.info(`usage store: pruned ${deleted} rows older than ${retentionDays} days${pruning.from ? ` from ${pruning.from}` : ""}`, {
      rows: deleted,
      retentionDays,
      ...(pruning.from && { store: pruning.from }),
      ...pruning.fields,
    });
  }
  return deleted;
}

/**
 * The timers of a usage store: `write` every `flushIntervalMs` (default 1 s) and `prune` every
 * `pruneIntervalMs` (default a day), neither keeping the process alive. Returns what stops them.
 */
export function startStoreTimers(options: UsageStoreOptions, write: () => void, prune: () => void): () => void {
  const writeEvery = setInterval(write, options.flushIntervalMs ?? 1000);
  const pruneEvery = setInterval(prune, options.pruneIntervalMs ?? DAY_MS);
  writeEvery.unref();
  pruneEvery.unref();
  return () => {
    clearInterval(writeEvery);
    clearInterval(pruneEvery);
  };
}
