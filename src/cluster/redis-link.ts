import { RedisClient } from "bun";
import type { Logger } from "../lib/log";

/**
 * The proxy's connections to Redis (`state.redis`), shared by the limit store and the shared
 * cool-downs: one for commands (opened at the first command) and one for the cool-down
 * subscription (opened when something subscribes). Bun's client is used with its own reconnection
 * and offline queue off, so nothing ever waits on a Redis that is away:
 *
 * - the first command waits for the first connection at most `connectTimeoutMs`;
 * - every command is answered within `commandTimeoutMs` (a Redis that stopped answering counts as down);
 * - while a connection is down, commands on it fail at once (the callers' `failMode` decides what that
 *   means) and a new connection is tried every `retryMs` in the background, so the link recovers by
 *   itself when Redis returns.
 *
 * `status` is what `/health` reports: "down" from a failed connection or command until a new
 * connection is up. An outage is logged once, and its end once.
 */
export interface RedisLinkOptions {
  /** How long a connection attempt (or the first command's wait for it) may take. */
  readonly connectTimeoutMs?: number;
  /** How long a command may take before Redis counts as down. */
  readonly commandTimeoutMs?: number;
  /** How often a new connection is tried while Redis is down. */
  readonly retryMs?: number;
  /**
   * How often, while something is subscribed, a PING checks that Redis still answers: a subscriber
   * connection only listens, so a Redis that froze or that the network cut off would go unnoticed,
   * and the announcements it no longer carries with it.
   */
  readonly heartbeatMs?: number;
}

export type LinkStatus = "up" | "down";

/** Redis cannot be reached (refused, timed out, connection lost): the caller's fail mode applies. */
export class RedisUnavailableError extends Error {
  constructor(
    reason: string,
    /**
     * Whether the command may have reached Redis: false when no connection was up to send it on
     * (it certainly did not run, so sending it again later runs it once); true when it was sent and
     * the connection failed or went quiet before the answer (it may yet run).
     */
    readonly sent = true,
  ) {
    super(`redis is unreachable (${reason})`);
    this.name = "RedisUnavailableError";
  }
}

const DEFAULTS = { connectTimeoutMs: 1000, commandTimeoutMs: 1000, retryMs: 1000, heartbeatMs: 1000 } as const;

/** A Lua script sent by its SHA1 (EVALSHA), and whole only when Redis does not know it yet (after a restart). */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  }
}

/** A host:port for log lines: never the URL's user info (it may hold a password). */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "6379"}`;
  } catch {
    return "redis";
  }
}

type Phase = "idle" | "connecting" | "up" | "down";

interface Subscription {
  readonly onMessage: (message: string) => void;
  readonly onSubscribed: () => void;
}

/** One connection to Redis, replaced by a new one whenever it fails. */
class Connection {
  private phase: Phase = "idle";
  private client: RedisClient | null = null;
  private attempt: Promise<RedisClient | null> | null = null;
  private retryTimer: Timer | null = null;
  private closed = false;
  lastError = "";

  constructor(
    private readonly url: string,
    private readonly options: Required<RedisLinkOptions>,
    /** A new connection is up (the subscriber subscribes on it). */
    private readonly onUp: (client: RedisClient) => void | Promise<void>,
    private readonly onChange: () => void,
  ) {}

  get state(): Phase {
    return this.phase;
  }

  /** The connected client, or a RedisUnavailableError at once while down (within connectTimeoutMs at the first call). */
  async get(): Promise<RedisClient> {
    if (this.phase === "up" && this.client) return this.client;
    if (this.closed) throw new RedisUnavailableError("closed", false);
    if (this.phase === "down") throw new RedisUnavailableError(this.lastError || "down", false);
    const client = await (this.attempt ?? this.connect());
    if (!client) throw new RedisUnavailableError(this.lastError || "down", false);
    return client;
  }

  /** Starts connecting now (the subscriber does not wait for a first command). */
  start(): void {
    if (this.phase === "idle") void this.connect();
  }

  /** While down, tries a new connection now rather than at the next retry. */
  retryNow(): void {
    if (this.phase !== "down" || this.attempt || this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  /** The connection failed under a command (lost, or no answer in time): drop it and try new ones. */
  fail(client: RedisClient, reason: string): void {
    if (client !== this.client || this.closed) return;
    this.client = null;
    client.onclose = null;
    client.close();
    this.down(reason);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (client) {
      client.onclose = null;
      client.close();
    }
  }

  private connect(): Promise<RedisClient | null> {
    if (this.phase === "idle") this.phase = "connecting";
    const client = new RedisClient(this.url, {
      connectionTimeout: this.options.connectTimeoutMs,
      autoReconnect: false,
      enableOfflineQueue: false,
    });
    const attempt = withTimeout(client.connect(), this.options.connectTimeoutMs, "no connection")
      .then(async () => {
        if (this.closed) throw new Error("closed");
        client.onclose = (error) => {
          if (client !== this.client || this.closed) return;
          this.client = null;
          this.down(error?.message || "connection closed");
        };
        this.client = client;
        await this.onUp(client);
        if (this.client !== client) return null; // lost again while setting up
        this.phase = "up";
        this.lastError = "";
        this.onChange();
        return client;
      })
      .catch((error: unknown) => {
        client.onclose = null;
        client.close();
        if (this.client === client) this.client = null;
        if (!this.closed) this.down(reasonOf(error));
        return null;
      })
      .finally(() => {
        if (this.attempt === attempt) this.attempt = null;
      });
    this.attempt = attempt;
    return attempt;
  }

  private down(reason: string): void {
    this.lastError = reason;
    this.phase = "down";
    this.onChange();
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.phase === "down" && !this.attempt) void this.connect();
    }, this.options.retryMs);
    this.retryTimer.unref?.();
  }
}

export class RedisLink {
  private readonly options: Required<RedisLinkOptions>;
  private readonly commands: Connection;
  private subscriber: Connection | null = null;
  private readonly channels = new Map<string, Subscription>();
  private outage = false;
  private heartbeat: Timer | null = null;
  /** Commands sent and not answered yet; `closeWhenIdle` waits for them. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  readonly address: string;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    options: RedisLinkOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.address = redisAddress(url);
    this.commands = new Connection(
      url,
      this.options,
      () => {},
      () => this.changed(),
    );
  }

  /** "down" while a connection is known lost (until a new one is up); "up" otherwise (also before the first). */
  get status(): LinkStatus {
    return this.commands.state === "down" || this.subscriber?.state === "down" ? "down" : "up";
  }

  /** One command, answered within commandTimeoutMs or rejected with a RedisUnavailableError. Errors Redis answers are rethrown as they are. */
  async send(command: string, args: string[]): Promise<unknown> {
    const client = await this.commands.get();
    this.inFlight++;
    try {
      return await withTimeout(client.send(command, args), this.options.commandTimeoutMs, "no answer");
    } catch (error) {
      if (isServerError(error)) throw error;
      const reason = reasonOf(error);
      this.commands.fail(client, reason);
      throw new RedisUnavailableError(reason);
    } finally {
      if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Runs a script in one round trip: EVALSHA, and EVAL only when Redis does not have it (yet, or since a restart). */
  async run(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.send("EVALSHA", [script.sha, ...rest]);
    } catch (error) {
      if (!isServerError(error) || !String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return this.send("EVAL", [script.source, ...rest]);
    }
  }

  /**
   * Subscribes to `channel` on the link's subscriber connection (one for every channel), opened at
   * the first subscription and opened again after every loss; `onSubscribed` runs each time the
   * subscription is (again) in place, to catch up on what was published while it was not.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onSubscribed: () => void): void {
    if (this.channels.has(channel)) throw new Error(`one subscription per channel: ${channel}`);
    const subscription = { onMessage, onSubscribed };
    this.channels.set(channel, subscription);
    if (this.subscriber) {
      // Already connected (or connecting: then the connection subscribes to every channel once up).
      if (this.subscriber.state === "up")
        void this.subscriber
          .get()
          .then((client) => this.listen(client, channel, subscription))
          .catch(() => {});
      return;
    }
    this.subscriber = new Connection(
      this.url,
      this.options,
      async (client) => {
        // A fresh client per connection: Bun keeps listeners across its own reconnects, so reusing one would add them twice.
        // One at a time: a Map's iteration also meets the channels subscribed meanwhile.
        for (const [name, entry] of this.channels) await this.listen(client, name, entry);
        // Redis is back: so, most likely, is the command connection (catching up needs it).
        this.commands.retryNow();
      },
      () => this.changed(),
    );
    this.subscriber.start();
    // A PING on the command connection: a failed one marks the link down (and logs the outage once).
    this.heartbeat = setInterval(() => void this.send("PING", []).catch(() => {}), this.options.heartbeatMs);
    this.heartbeat.unref?.();
  }

  private async listen(client: RedisClient, channel: string, subscription: Subscription): Promise<void> {
    await withTimeout(
      client.subscribe(channel, (message) => subscription.onMessage(message)),
      this.options.commandTimeoutMs,
      "no answer to SUBSCRIBE",
    );
    subscription.onSubscribed();
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.commands.close();
    this.subscriber?.close();
  }

  /**
   * Closes once the commands under way are answered, waiting at most `graceMs` (each is bounded
   * by the command timeout anyway): the releases and charges of a drain's last requests land.
   */
  async closeWhenIdle(graceMs: number): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // the last requests' observers run first
    if (this.inFlight > 0) {
      let timer: Timer | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    this.close();
  }

  private changed(): void {
    const down = this.status === "down";
    if (down === this.outage) return;
    this.outage = down;
    if (down) {
      const reason = this.commands.state === "down" ? this.commands.lastError : this.subscriber?.lastError;
      this.log.warn(
        `redis at ${this.address} is unreachable (${reason}): shared limits follow state.failMode and target cool-downs stay local; reconnecting every ${this.options.retryMs} ms`,
        { address: this.address, error: reason },
      );
    } else {
      this.log.info(`redis at ${this.address} is reachable again: limits and cool-downs are shared`, { address: this.address });
    }
  }
}

/** An error Redis answered (the connection is fine): Bun's ERR_REDIS_SERVER_ERROR. */
function isServerError(error: unknown): boolean {
  return (error as { code?: string })?.code === "ERR_REDIS_SERVER_ERROR";
}

function reasonOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number, reason: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${reason} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
