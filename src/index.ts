import { createApp } from "./app";
import { loadConfig } from "./config/load";
import { ConfigStore } from "./config/store";
import { watchConfigFile } from "./config/watch";
import { consoleLogger, type Logger } from "./log";

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

/** Loads the config (throws ConfigError when it is invalid) and starts serving it. */
export async function startServer({
  configPath,
  port = 3333,
  hostname = "0.0.0.0",
  log = consoleLogger(),
  watchConfig = true,
}: ServerOptions): Promise<RunningServer> {
  const store = new ConfigStore(await loadConfig(configPath), log);
  const app = createApp({ store, log }).listen({
    port,
    hostname,
    // Bodies are bounded per request by maxBodyBytes (which a reload may change) with an OpenAI-shaped 413.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  });
  const server = app.server!;
  const stopWatching = watchConfig ? watchConfigFile(store) : () => {};

  const drain = async (): Promise<boolean> => {
    stopWatching();
    let timer: Timer | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(resolve, store.current.drainTimeoutMs, false)));
    const drained = await Promise.race([server.stop(false).then(() => true), deadline]);
    clearTimeout(timer);
    if (!drained) await server.stop(true);
    return drained;
  };
  return {
    url: `http://${displayHost(hostname)}:${server.port}`,
    port: server.port!,
    store,
    shutdown: drain,
    stop: async () => {
      stopWatching();
      await server.stop(true);
    },
  };
}
