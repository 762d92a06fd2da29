import { createApp } from "./app";
import { LiveCatalog } from "../catalog/live-catalog";
import { loadConfig } from "../config/load";
import { LiveConfig } from "../config/live-config";
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
import { openUsageStore } from "../observe/usage/open";
import { usageObserver, type UsageStore } from "../observe/usage/store";
import { Dispatcher } from "../proxy/dispatch";
import { openAI } from "../providers/openai";
import { Limiter } from "../limits/limiter";
import { MemoryCounters } from "../limits/memory-counters";
import { RedisCounters } from "../limits/redis-counters";
import { HealthChecker } from "../targets/health-check";
import { RedisLink } from "../cluster/redis-link";
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
  /**
   * Stops accepting connections, lets in-flight requests and streams finish for up to the
   * config's `drainTimeoutMs`, then closes whatever is left. Resolves true if all finished.
   */
  shutdown(): Promise<boolean>;
  /** Closes everything at once. */
  stop(): Promise<void>;
}

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
  // Before anything else starts: a corrupt or locked file, or a malformed usage.postgres URL, is a start-up error (ConfigError).
  // A PostgreSQL server that is away is not: rows queue until it is back.
  const usage = openUsageStore(initial, () => configs.current, log);
  const states = new TargetStates();
  const catalogs = new LiveCatalog(configs, log);
  const health = new HealthChecker(states);
  catalogs.onChange((catalog) => {
    // Targets still served keep their state; the health checks follow the models now served.
    states.retain(catalog.models.values());
    health.sync(catalog.models.values());
  });
  await catalogs.follow();
  // state.redis (read at start; changing it takes a restart): limits and cool-downs shared by every
  // instance. Nothing waits for it: commands connect at the first one, the subscription in the background.
  const redisUrl = initial.state.redis;
  const redis = redisUrl ? new RedisLink(redisUrl, log) : null;
  const cooldowns = redis ? new SharedCooldowns(redis, states, log) : null;
  cooldowns?.start();
  configs.onChange(async (config) => {
    if ((config.state.redis ?? null) !== (redisUrl ?? null)) log.warn("state.redis changed: it takes effect at the next start (limits and cool-downs keep their current store)", { file: config.file });
  });
  /** Closes the Redis connections: at once, or (`graceMs`) once the last releases and charges are answered. */
  const closeShared = async (graceMs = 0) => {
    cooldowns?.stop();
    if (graceMs > 0) await redis?.closeWhenIdle(graceMs);
    else redis?.close();
  };
  const stackOf = (error: unknown) => (error as Error)?.stack ?? String(error);
  const observe = new Observability((error) => log.error(`an observer failed: ${stackOf(error)}`, { error: stackOf(error) }));
  const stdout = batchedWriter((text) => process.stdout.write(text));
  const terminal = !accessLogWrite && process.stdout.isTTY === true;
  observe.observe(accessLog(() => configs.current.log, accessLogWrite ?? stdout.write, logFormat ?? (terminal ? "text" : "json")));
  const metrics = new MetricsRegistry((error, name) => log.error(`metric ${name} failed: ${stackOf(error)}`, { metric: name, error: stackOf(error) }));
  const countRequest = proxyMetrics(metrics, { models: () => catalogs.current.models.values(), states, reloads: () => configs.reloads, version: VERSION });
  observe.observe((record) => configs.current.metricsEnabled && countRequest(record));
  registerProcessMetrics(metrics);
  const recent = new RecentStats();
  observe.observe(recent.observe);
  if (usage) observe.observe(usageObserver(usage));
  metrics.counterFn("cm_proxy_usage_rows_dropped_total", "Usage rows dropped because the usage store's write queue was full", () => usage?.droppedRows ?? null);
  const limiter = new Limiter(redis ? new RedisCounters(redis) : new MemoryCounters(), () => configs.current.state.failMode ?? "open", log);
  let ready = false;
  const app = createApp({ configs, catalogs, states, dispatcher: new Dispatcher({ states, limiter, providers: { openai: openAI }, random: Math.random }), limiter, log, observe, metrics, recent, usage, redis, ready: () => ready });
  try {
    app.listen({
      port,
      hostname,
      // Bodies are bounded per request by maxBodyBytes (which a reload may change) with an OpenAI-shaped 413.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
  } catch (error) {
    catalogs.stop();
    await usage?.close();
    limiter.close();
    await closeShared();
    throw await listenError(error, hostname, port);
  }
  const server = app.server!;
  const stopWatching = watchConfig ? watchConfigFile(configs) : () => {};
  ready = true;
  const stopBackground = () => {
    ready = false;
    stopWatching();
    catalogs.stop();
  };

  const drain = async (): Promise<boolean> => {
    stopBackground();
    const drained = await withDeadline(server.stop(false).then(() => true), configs.current.drainTimeoutMs, () => false);
    if (!drained) await server.stop(true);
    await usage?.close();
    limiter.close();
    await closeShared(1000);
    stdout.flush(); // the process exits next: the last access lines must not wait for another turn
    return drained;
  };
  return {
    url: `http://${displayHost(hostname)}:${server.port}`,
    port: server.port!,
    configs,
    catalogs,
    states,
    observe,
    metrics,
    usage,
    shutdown: drain,
    stop: async () => {
      stopBackground();
      await server.stop(true);
      await usage?.close();
      limiter.close();
      await closeShared();
      stdout.flush();
    },
  };
}
