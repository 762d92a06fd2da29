import { createApp } from "./app";
import { loadConfig } from "./config/load";
import { ConfigStore } from "./config/store";
import { consoleLogger, type Logger } from "./log";

export interface ServerOptions {
  readonly configPath: string;
  readonly port?: number;
  readonly hostname?: string;
  readonly log?: Logger;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: ConfigStore;
  stop(): Promise<void>;
}

/** Loads the config (throws ConfigError when it is invalid) and starts serving it. */
export async function startServer({ configPath, port = 3333, hostname = "0.0.0.0", log = consoleLogger() }: ServerOptions): Promise<RunningServer> {
  const store = new ConfigStore(await loadConfig(configPath));
  const app = createApp({ store, log }).listen({
    port,
    hostname,
    // Bodies are bounded per request by maxBodyBytes (which a reload may change) with an OpenAI-shaped 413.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  });
  const server = app.server!;
  const shownHost = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  return {
    url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${server.port}`,
    port: server.port!,
    store,
    stop: async () => {
      await app.stop(true);
    },
  };
}
