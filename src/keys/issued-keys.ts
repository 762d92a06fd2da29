// The client keys issued at runtime: held in memory for the request path, kept in step with the key table by every instance.
import type { ClientKey, IssuedKeyLookup } from "../access/clients";
import type { RedisLink } from "../cluster/redis-link";
import type { Logger } from "../lib/log";
import { ProxyError } from "../model/errors";
import { IdMatcher } from "../model/glob";
import { hexOf, newKeyId, newSecret, prefixOf, statusAt, type KeyChanges, type KeyRow } from "./key-row";
import type { KeyTable } from "./key-table";
import { digest } from "../access/secret";

/** Where instances announce a change to a key (the message names the key and the instance). */
export const KEYS_CHANNEL = "cm-proxy:keys";

/** A digest the request path may meet: a key's current secret, or its former one until `until`. */
interface Entry {
  readonly row: KeyRow;
  readonly client: ClientKey;
  /** A former secret after a rotation: accepted until then. null: the current secret. */
  readonly until: number | null;
}

export interface IssuedKeysOptions {
  readonly log: Logger;
  /** `state.redis`: changes are announced there, and heard within moments; null: only polling. */
  readonly redis?: RedisLink | null;
  /** How often the table is asked whether anything changed (default 1 s). */
  readonly pollMs?: number;
  /** With Redis up, announcements carry changes and the poll is only a safety net, this often (default 10 s). */
  readonly announcedPollMs?: number;
  /** How often `lastUsedAt` is written (default 5 s). */
  readonly touchMs?: number;
  readonly now?: () => number;
}

/** What `create` is given (times in ms since the epoch). */
export interface NewKey {
  readonly name: string;
  readonly models?: readonly string[] | null;
  readonly limits?: KeyRow["limits"];
  readonly expiresAt?: number | null;
  readonly metadata?: KeyRow["metadata"];
}

const keyAuth = (message: string, code: string) => new ProxyError(401, message, "authentication_error", code);

const notLoaded = () =>
  new ProxyError(
    503,
    "The client keys issued at runtime are not loaded yet (the usage database does not answer); try again shortly",
    "api_error",
    "keys_unavailable",
  );

const clientOf = (row: KeyRow): ClientKey => ({
  id: row.id,
  name: row.name,
  digest: Buffer.from(row.digest, "hex"),
  models: row.models ? new IdMatcher(row.models) : null,
  ...(row.limits && { limits: row.limits }),
});

/**
 * The issued keys. The request path (`find`) reads only the in-memory index: a Map from a secret's
 * digest to its key. The index is rebuilt from the table after every change this instance makes
 * (so a new key works here at once), when another instance announces one on Redis, and when the
 * poll sees the table's fingerprint move; so a block, revocation or rotation reaches every
 * instance within the poll interval, or at once with Redis (whose outage brings the quick poll back). Expiry and a rotation's grace are read
 * off the clock at each request. Until the first load the proxy requires a key and answers 503
 * for one it cannot check: a database that is away never opens a closed proxy.
 */
export class IssuedKeys implements IssuedKeyLookup {
  private index = new Map<string, Entry>();
  private byId = new Map<string, KeyRow>();
  private loaded = false;
  private fingerprint = "";
  private loads: Promise<void> = Promise.resolve();
  private loadQueued = false;
  private outage = false;
  private used = new Map<string, number>();
  private timers: Timer[] = [];
  private readonly listeners: (() => void)[] = [];
  private closed = false;
  private readonly now: () => number;
  /** This instance, in its announcements: its own come back to it and are skipped. */
  readonly instance = crypto.randomUUID();

  constructor(
    readonly table: KeyTable,
    private readonly options: IssuedKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Loads the keys (waiting for that at most `waitMs`), then follows the table: polling, and Redis when there is one. */
  async start(waitMs: number): Promise<void> {
    const { redis } = this.options;
    const announcedPollMs = this.options.announcedPollMs ?? 10_000;
    let polledAt = 0;
    // Every second, unless Redis is up to announce changes: then rarely (while it is down, every second again).
    this.timers.push(
      setInterval(() => {
        if (redis && redis.status === "up" && this.now() - polledAt < announcedPollMs) return;
        polledAt = this.now();
        void this.poll();
      }, this.options.pollMs ?? 1000),
    );
    this.timers.push(setInterval(() => void this.flushUse(), this.options.touchMs ?? 5000));
    for (const timer of this.timers) timer.unref?.();
    redis?.subscribe(
      KEYS_CHANNEL,
      (message) => {
        if (!message.includes(this.instance)) void this.reload();
      },
      () => void this.reload(),
    );
    let timer: Timer | undefined;
    await Promise.race([this.reload(), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  get required(): boolean {
    return !this.loaded || this.byId.size > 0;
  }

  /** Every issued key as last loaded, whatever its status. */
  get clients(): ClientKey[] {
    return [...new Set([...this.index.values()].map((entry) => entry.client))];
  }

  /** The issued keys that may be used now (not blocked, expired or revoked). */
  activeClients(now: number): ClientKey[] {
    return [...this.index.values()].filter((entry) => entry.until === null && statusAt(entry.row, now) === "active").map((entry) => entry.client);
  }

  /** Whether the table has been read since the start. */
  get ready(): boolean {
    return this.loaded;
  }

  find(keyDigest: Uint8Array, now: number): ClientKey | null {
    if (!this.loaded) throw notLoaded();
    const entry = this.index.get(hexOf(keyDigest));
    if (!entry) return null;
    const { row } = entry;
    if (entry.until !== null && now >= entry.until)
      throw keyAuth("This API key was replaced by a rotation and its grace period is over; use the new key", "key_rotated");
    const status = statusAt(row, now);
    if (status === "revoked") throw keyAuth("This API key has been revoked", "key_revoked");
    if (status === "blocked") throw keyAuth("This API key is blocked; ask the proxy's administrator", "key_blocked");
    if (status === "expired") throw keyAuth(`This API key expired at ${new Date(row.expiresAt!).toISOString()}`, "key_expired");
    this.used.set(row.id, now);
    return entry.client;
  }

  /** The key with this id as last loaded (no table read: for answers on the request path). */
  describe(id: string): KeyRow | null {
    return this.byId.get(id) ?? null;
  }

  async create(key: NewKey): Promise<{ row: KeyRow; secret: string }> {
    const now = this.now();
    const secret = newSecret();
    const row: KeyRow = {
      id: newKeyId(),
      name: key.name,
      digest: hexOf(digest(secret)),
      prefix: prefixOf(secret),
      models: key.models ?? null,
      limits: key.limits ?? null,
      metadata: key.metadata ?? null,
      status: "active",
      expiresAt: key.expiresAt ?? null,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null,
      previousDigest: null,
      previousUntil: null,
    };
    await this.table.insert(row);
    await this.changed(row.id);
    return { row, secret };
  }

  /** The changed row, or null for an unknown (or revoked) id, or, with `ifDigest`, a key whose secret has changed. */
  async change(id: string, changes: KeyChanges, ifDigest?: string): Promise<KeyRow | null> {
    const row = await this.table.update(id, changes, this.now(), ifDigest);
    if (row) await this.changed(id);
    return row;
  }

  /**
   * A new secret for the key; the former one is accepted for `graceMs` more (none when 0). Null
   * when `current` is no longer the key as stored (another rotation came first, or a revocation):
   * its grace would otherwise be given to a secret that is not the former one.
   */
  async rotate(id: string, current: KeyRow, graceMs: number): Promise<{ row: KeyRow; secret: string } | null> {
    const secret = newSecret();
    const graceful = graceMs > 0;
    const changes = {
      digest: hexOf(digest(secret)),
      prefix: prefixOf(secret),
      previousDigest: graceful ? current.digest : null,
      previousUntil: graceful ? this.now() + graceMs : null,
    };
    const row = await this.change(id, changes, current.digest);
    return row && { row, secret };
  }

  /** Every issued key, from the table (fresh, `lastUsedAt` included: what this instance saw used is written first). */
  async list(): Promise<KeyRow[]> {
    await this.flushUse();
    return this.table.all();
  }

  async get(id: string): Promise<KeyRow | null> {
    await this.flushUse();
    return this.table.get(id);
  }

  /** Writes what is waiting, stops following the table and closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.flushUse();
    await this.loads;
    await this.table.close();
  }

  /** This instance changed a key: its index follows before the admin call answers, and the others are told. */
  private async changed(id: string): Promise<void> {
    await this.reload();
    const redis = this.options.redis;
    if (redis) redis.send("PUBLISH", [KEYS_CHANNEL, JSON.stringify({ id, from: this.instance })]).catch(() => {});
  }

  private async poll(): Promise<void> {
    if (this.closed || this.loadQueued) return;
    try {
      if ((await this.table.fingerprint()) !== this.fingerprint || !this.loaded) await this.reload();
      else this.recovered();
    } catch (error) {
      this.failed(error);
    }
  }

  /** Rebuilds the index from the table, after any load under way (so the newest read always lands last). */
  private reload(): Promise<void> {
    this.loadQueued = true;
    this.loads = this.loads.then(async () => {
      this.loadQueued = false;
      if (this.closed) return;
      try {
        await this.table.ready();
        const fingerprint = await this.table.fingerprint();
        const rows = await this.table.all();
        this.rebuild(rows);
        this.fingerprint = fingerprint;
        this.recovered();
      } catch (error) {
        this.failed(error);
      }
    });
    return this.loads;
  }

  private rebuild(rows: readonly KeyRow[]): void {
    const index = new Map<string, Entry>();
    for (const row of rows) {
      const client = clientOf(row);
      index.set(row.digest, { row, client, until: null });
      if (row.previousDigest !== null && row.previousUntil !== null) index.set(row.previousDigest, { row, client, until: row.previousUntil });
    }
    this.index = index;
    this.byId = new Map(rows.map((row) => [row.id, row]));
    if (!this.loaded && rows.length > 0) this.options.log.info(`issued client keys: ${rows.length} in ${this.table.where}`, { keys: rows.length });
    this.loaded = true;
    for (const listener of this.listeners) listener();
  }

  /** Calls `listener` after every load of the table that found it changed. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private async flushUse(): Promise<void> {
    if (this.used.size === 0) return;
    const used = this.used;
    this.used = new Map();
    try {
      await this.table.touch(used);
    } catch (error) {
      // Kept for the next turn (a later use of the same key wins anyway).
      for (const [id, at] of used) if (!this.used.has(id)) this.used.set(id, at);
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    if (this.outage || this.closed) return;
    this.outage = true;
    const reason = (error as Error)?.message ?? String(error);
    this.options.log.warn(
      `issued client keys: cannot read ${this.table.where} (${reason}); the keys loaded so far keep working, changes made elsewhere arrive once it answers again`,
      { store: this.table.where, error: reason },
    );
  }

  private recovered(): void {
    if (!this.outage) return;
    this.outage = false;
    this.options.log.info(`issued client keys: ${this.table.where} answers again`, { store: this.table.where });
  }
}
