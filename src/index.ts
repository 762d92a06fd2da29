import { createApp } from "./app";
import { CatalogStore } from "./catalog/store";
import { loadConfig } from "./config/load";
import { ConfigStore } from "./config/store";
import { watchConfigFile } from "./config/watch";
import { withDeadline } from "./deadline";
import { listenError } from "./listen-error";
import { consoleLogger, type Logger } from "./log";
import { Router } from "./routing/dispatch";
import { HealthChecker } from "./routing/health-check";
import { RuntimeRegistry } from "./state/registry";

export interface ServerOptions {
  readonly configPath: string;
  readonly port?: number;
  readonly hostname?: string;
  readonly log?: Logger;
  /** Reload when the config file changes (default true). */
  readonly watchConfig?: boolean;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: ConfigStore;
  readonly catalogs: CatalogStore;
  readonly registry: RuntimeRegistry;
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
  log = consoleLogger(),
  watchConfig = true,
}: ServerOptions): Promise<RunningServer> {
  const store = new ConfigStore(await loadConfig(configPath), log);
  const registry = new RuntimeRegistry();
  const catalogs = new CatalogStore(store, registry, new HealthChecker(registry), log);
  await catalogs.follow();
  let ready = false;
  const app = createApp({ store, catalogs, registry, router: new Router(registry), log, ready: () => ready });
  try {
    app.listen({
      port,
      hostname,
      // Bodies are bounded per request by maxBodyBytes (which a reload may change) with an OpenAI-shaped 413.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
  } catch (error) {
    catalogs.stop();
    throw await listenError(error, hostname, port);
  }
  const server = app.server!;
  const stopWatching = watchConfig ? watchConfigFile(store) : () => {};
  ready = true;
  const stopBackground = () => {
    ready = false;
    stopWatching();
    catalogs.stop();
  };

  const drain = async (): Promise<boolean> => {
    stopBackground();
    const drained = await withDeadline(server.stop(false).then(() => true), store.current.drainTimeoutMs, () => false);
    if (!drained) await server.stop(true);
    return drained;
  };
  return {
    url: `http://${displayHost(hostname)}:${server.port}`,
    port: server.port!,
    store,
    catalogs,
    registry,
    shutdown: drain,
    stop: async () => {
      stopBackground();
      await server.stop(true);
    },
  };
}
