import { createApp } from "./app";
import { Closers } from "./closers";
import { LiveCatalog } from "../catalog/live-catalog";
import { loadConfig } from "../config/load";
import { LiveConfig } from "../config/live-config";
import type { ProxyConfig } from "../config/proxy-config";
import { watchConfigFile } from "../config/watch";
import { withDeadline } from "../lib/deadline";
import { listenError } from "./listen-error";
import { consoleLogger, leveled, LOG_FORMAT_ENV, parseLogFormat, type LogFormat, type Logger } from "../lib/log";
import { accessLog } from "../observe/access-log";
import { batchedWriter } from "../observe/batched-writer";
import { registerProcessMetrics } from "../observe/metrics/process";
import { proxyMetrics } from "../observe/metrics/proxy-metrics";
import { MetricsRegistry } from "../observe/metrics/registry";
import { Observability } from "../observe/observability";
import { RecentStats } from "../observe/recent";
import { unpricedWarnings } from "../observe/unpriced";
import { openUsageStore } from "../observe/usage/open";
import { usageObserver, type UsageStore } from "../observe/usage/store";
import { followBudgets } from "../observe/budget-seed";
import { Dispatcher } from "../proxy/dispatch";
import { anthropicAdapter } from "../providers/anthropic";
import { redisThinking } from "../providers/anthropic/shared-thinking";
import { ThinkingStore } from "../providers/anthropic/thinking-store";
import { azure } from "../providers/azure";
import { gemini } from "../providers/gemini";
import { openAI } from "../providers/openai";
import { Limiter } from "../limits/limiter";
import { MemoryCounters } from "../limits/memory-counters";
import { RedisCounters } from "../limits/redis-counters";
import { HealthChecker } from "../targets/health-check";
import { RedisLink } from "../cluster/redis-link";
import { openIssuedKeys } from "../keys/open";
import type { IssuedKeys } from "../keys/issued-keys";
import { TargetStates } from "../targets/target-states";
import { SharedCooldowns } from "../targets/shared-cooldowns";
import { VERSION } from "../lib/version";

export interface ServerOptions {
  readonly configPath: string;
  readonly port?: number;
  readonly hostname?: string;
  /** Diagnostic lines (default: stderr, in the format the config's `log.format` names, else `logFormat`, else text). */
  readonly log?: Logger;
  /**
   * The log format while the config's `log.format` names none: of the access lines (which else
   * are text on a terminal, JSON otherwise) and of the default `log`. Default: the
   * CM_OPEN_WEBUI_PROXY_LOG_FORMAT environment variable.
   */
  readonly logFormat?: LogFormat;
  /** Reload when the config file changes (default true). */
  readonly watchConfig?: boolean;
  /** Where access-log lines go (default stdout). */
  readonly accessLogWrite?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly configs: LiveConfig;
  readonly catalogs: LiveCatalog;
  readonly states: TargetStates;
  readonly observe: Observability;
  readonly metrics: MetricsRegistry;
  /** The usage store (null when `usage.enabled` is false); closed by `shutdown` and `stop`. */
  readonly usage: UsageStore | null;
  /** The client keys issued at runtime (null when `usage.enabled` is false). */
  readonly keys: IssuedKeys | null;
  /**
   * Stops accepting connections, lets in-flight requests and streams finish for up to the
   * config's `drainTimeoutMs`, then closes whatever is left. Resolves true if all finished.
   */
  shutdown(): Promise<boolean>;
  /** Closes everything at once. */
  stop(): Promise<void>;
}

/** How long the start waits for the issued keys' first load (a PostgreSQL server may be away). */
const KEYS_LOAD_WAIT_MS = 3000;

/** How long a shutdown waits, once connections are closed, for the last requests' observers. */
const SETTLE_MS = 1000;
/** How long a store's last writes may take at shutdown (a PostgreSQL server that stopped answering must not hold the process). */
const STORE_CLOSE_DEADLINE_MS = 10_000;

/** How long a start waits for the usage store to say what the budgets already spent (after that, the spend is read in the background). */
const BUDGET_SEED_WAIT_MS = 5000;

const displayHost = (hostname: string) => {
  const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  return host.includes(":") ? `[${host}]` : host;
};

/**
 * Loads the config (throws ConfigError when it is invalid) and starts serving it (throws
 * ListenError when the address cannot be bound).
 */
export async function startServer({
  configPath,
  port = 3333,
  hostname = "0.0.0.0",
  log: given,
  logFormat = parseLogFormat(process.env[LOG_FORMAT_ENV]),
  watchConfig = true,
  accessLogWrite,
}: ServerOptions): Promise<RunningServer> {
  const initial = await loadConfig(configPath);
  let configs: LiveConfig;
  const settings = () => (configs?.current ?? initial).log;
  const log = leveled(given ?? consoleLogger(undefined, () => settings().format ?? logFormat ?? "text"), () => settings().level);
  configs = new LiveConfig(initial, log);
  const closers = new Closers(log);
  // A reader that goes away (a log shipper restarting, a closed pipe) fails every write after it:
  // said once, and what follows is dropped, instead of an error line per batch.
  let stdoutOpen = true;
  const stdoutFailed = (error: Error) => {
    if (!stdoutOpen) return;
    stdoutOpen = false;
    log.warn(`stdout cannot be written (${error.message}): access lines are dropped from now on`, { error: error.message });
  };
  process.stdout.on("error", stdoutFailed);
  const stdout = batchedWriter((text) => {
    if (stdoutOpen) process.stdout.write(text);
  });
  // Closed last: the process exits next, and the last access lines must not wait for another turn.
  closers.add("stdout", () => {
    stdout.flush();
    process.stdout.off("error", stdoutFailed);
  });
  // Before anything else starts: a corrupt or locked file, or a malformed usage.postgres URL, is a start-up error (ConfigError).
  // A PostgreSQL server that is away is not: rows queue until it is back.
  const usage = openUsageStore(initial, () => configs.current, log);
  if (usage) closers.add("usage store", () => usage.close(), { deadlineMs: STORE_CLOSE_DEADLINE_MS });
  // state.redis (read at start; changing it takes a restart): limits and cool-downs shared by every
  // instance. Nothing waits for it: commands connect at the first one, the subscription in the background.
  const redisUrl = initial.state.redis;
  const redis = redisUrl ? new RedisLink(redisUrl, log) : null;
  // Gracefully, once the last releases and charges are answered.
  if (redis) closers.add("redis", (graceful) => (graceful ? redis.closeWhenIdle(1000) : redis.close()));
  // The usage store is opened once, like Redis: a reload cannot switch it on, off or elsewhere.
  const storeAt = (config: ProxyConfig) => JSON.stringify([config.usage.enabled, config.usage.path, config.usage.postgres, config.usage.queueSize]);
  const usageAt = storeAt(initial);
  configs.onChange(async (config) => {
    if ((config.state.redis ?? null) !== (redisUrl ?? null))
      log.warn("state.redis changed: it takes effect at the next start (limits and cool-downs keep their current store)", { file: config.file });
    if (storeAt(config) !== usageAt)
      log.warn("usage.enabled, usage.path, usage.postgres or usage.queueSize changed: it takes effect at the next start (rows keep going where they went)", {
        file: config.file,
      });
  });
  // Keys issued at runtime, in the usage database: loaded before the first request (a server that
  // is away is waited for a moment; meanwhile keys it would hold get 503, never an open door).
  let keys: IssuedKeys | null;
  try {
    keys = usage ? openIssuedKeys(initial, log, redis) : null;
  } catch (error) {
    await closers.close(false);
    throw error;
  }
  if (keys) {
    closers.add("issued keys", () => keys.close(), { deadlineMs: STORE_CLOSE_DEADLINE_MS });
    await keys.start(KEYS_LOAD_WAIT_MS);
  }
  const states = new TargetStates();
  const cooldowns = redis ? new SharedCooldowns(redis, states, log) : null;
  if (cooldowns) {
    cooldowns.start();
    closers.add("shared cool-downs", () => cooldowns.stop());
  }
  const catalogs = new LiveCatalog(configs, log);
  const health = new HealthChecker(states);
  catalogs.onChange((catalog) => {
    // Targets still served keep their state; the health checks follow the models now served.
    states.retain(catalog.models.values());
    health.sync(catalog.models.values());
  });
  closers.add("discovery and health checks", () => {
    catalogs.stop();
    health.stop();
  });
  await catalogs.follow();
  const memoryCounters = redis ? null : new MemoryCounters();
  const limiter = new Limiter(memoryCounters ?? new RedisCounters(redis!), () => configs.current.state.failMode ?? "open", log);
  closers.add("limiter", () => limiter.close());
  // Budgets kept in memory start from what the usage store says today and this month spent.
  if (memoryCounters && usage) await followBudgets({ usage, counters: memoryCounters, configs, catalogs, keys, log, waitMs: BUDGET_SEED_WAIT_MS });

  const stackOf = (error: unknown) => (error as Error)?.stack ?? String(error);
  const observe = new Observability((error) => log.error(`an observer failed: ${stackOf(error)}`, { error: stackOf(error) }));
  const terminal = !accessLogWrite && process.stdout.isTTY === true;
  observe.observe(accessLog(() => configs.current.log, accessLogWrite ?? stdout.write, logFormat ?? (terminal ? "text" : "json")));
  const metrics = new MetricsRegistry((error, name) => log.error(`metric ${name} failed: ${stackOf(error)}`, { metric: name, error: stackOf(error) }));
  const countRequest = proxyMetrics(metrics, { models: () => catalogs.current.models.values(), states, reloads: () => configs.reloads, version: VERSION });
  observe.observe((record) => configs.current.metricsEnabled && countRequest(record));
  registerProcessMetrics(metrics);
  const recent = new RecentStats();
  observe.observe(recent.observe);
  observe.observe(unpricedWarnings(log));
  if (usage) observe.observe(usageObserver(usage));
  metrics.counterFn(
    "cm_proxy_usage_rows_dropped_total",
    "Usage rows dropped: the usage store's write queue was full, or the store refused them for good",
    () => usage?.droppedRows ?? null,
  );

  let ready = false;
  const dispatcher = new Dispatcher({
    states,
    limiter,
    providers: { openai: openAI, anthropic: anthropicAdapter(new ThinkingStore({ shared: redis ? redisThinking(redis) : undefined })), gemini, azure },
    random: Math.random,
  });
  const clientAddress = (request: Request) => app.server?.requestIP(request)?.address;
  const app = createApp({
    configs,
    catalogs,
    states,
    dispatcher,
    limiter,
    log,
    observe,
    metrics,
    recent,
    usage,
    keys,
    redis,
    clientAddress,
    ready: () => ready,
  });
  try {
    app.listen({
      port,
      hostname,
      // Bodies are bounded per request by maxBodyBytes (which a reload may change) with an OpenAI-shaped 413.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // Bun's development mode prints the error a relayed body is cut with (a stalled backend) as a
      // raw stack trace on stderr, between the JSON log lines; the access line already reports it.
      development: false,
    });
  } catch (error) {
    await closers.close(false);
    throw await listenError(error, hostname, port);
  }
  const server = app.server!;
  let drained = true;
  // A stop during a graceful shutdown (a second signal) ends the drain at once.
  const forced = Promise.withResolvers<boolean>();
  closers.add("server", async (graceful) => {
    if (graceful) {
      const finished = withDeadline(
        server.stop(false).then(() => true),
        configs.current.drainTimeoutMs,
        () => false,
      );
      drained = await Promise.race([finished, forced.promise]);
    }
    if (!graceful || !drained) {
      observe.closingConnections = true;
      await server.stop(true);
    }
    // A body that ended with its connection may still be telling its observers (the access log, usage).
    if (graceful) await observe.settled(SETTLE_MS);
  });
  if (watchConfig) closers.add("config watch", watchConfigFile(configs));
  ready = true;
  closers.add("readiness", () => (ready = false));

  return {
    url: `http://${displayHost(hostname)}:${server.port}`,
    port: server.port!,
    configs,
    catalogs,
    states,
    observe,
    metrics,
    usage,
    keys,
    shutdown: async () => {
      await closers.close(true);
      return drained;
    },
    stop: () => {
      forced.resolve(false);
      return closers.close(false);
    },
  };
}
