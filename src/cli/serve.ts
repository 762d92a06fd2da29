// Serving: start the server (src/cli.ts has raised Bun's fetch limit by then), take over the
// signals, then say so. Runs until a signal ends the process.
import type { LogFormat, Logger } from "../lib/log";
import { VERSION } from "../lib/version";
import { hostPort } from "../server/listen-error";
import type { RunningServer } from "../server/start";
import type { CommandOf } from "./args";
import { warnIfFromExample, warnAboutConfig } from "./commands";
import type { HeldSignal } from "./held-signals";
import { MAX_IN_FLIGHT_ENV } from "./in-flight";

function announce(server: RunningServer, hostname: string, log: Logger): void {
  const config = server.configs.current;
  const limit = process.env[MAX_IN_FLIGHT_ENV];
  const address = hostPort(hostname, server.port);
  const models = server.catalogs.current.models.size;
  log.info(
    `cm-open-webui-proxy ${VERSION} listening on ${address} with ${models} models from ${config.file}, up to ${limit || "256 (Bun's default)"} backend requests in flight`,
    { version: VERSION, address, models, file: config.file, maxInFlight: Number(limit) || 256 },
  );
  warnAboutConfig(config, log);
  // Keys issued at runtime close the proxy too (and so does a key table not read yet).
  if (config.clients.keys.length === 0 && !server.keys?.required) {
    log.warn("no clientKeys configured: any client that can reach this port may use every model", { address });
  }
}

/**
 * The signals while the server is starting (start-up may wait seconds on a discovery listing or a
 * key table): SIGHUP's reload waits until the server is up (the file may have changed since it was
 * read), SIGTERM/SIGINT stop the start; nothing has been served. Without these, Bun's defaults would
 * kill the process. Signals the entry held until now (`heldSignals`) are taken over. Returns what
 * takes them away once the server's own handlers are in place, and says whether a SIGHUP came meanwhile.
 */
function handleSignalsWhileStarting(log: Logger, heldSignals: (() => readonly HeldSignal[]) | undefined): () => boolean {
  let hungUp = false;
  const hangUp = () => {
    hungUp = true;
    log.info("SIGHUP during start-up: the config is reloaded once the proxy is up", { signal: "SIGHUP" });
  };
  const stop = (signal: string) => () => {
    log.info(`${signal} during start-up: exiting`, { signal });
    process.exit(0);
  };
  const [term, interrupt] = [stop("SIGTERM"), stop("SIGINT")];
  process.on("SIGHUP", hangUp);
  process.on("SIGTERM", term);
  process.on("SIGINT", interrupt);
  // Installed first: the signals stay handled while they are taken over.
  for (const signal of heldSignals?.() ?? []) (signal === "SIGHUP" ? hangUp : signal === "SIGTERM" ? term : interrupt)();
  return () => {
    process.off("SIGHUP", hangUp);
    process.off("SIGTERM", term);
    process.off("SIGINT", interrupt);
    return hungUp;
  };
}

/** SIGHUP reloads the config; SIGTERM/SIGINT drain in-flight requests, then exit (a second one forces). */
function handleSignals(server: RunningServer, log: Logger): void {
  process.on("SIGHUP", () => void server.configs.reload("SIGHUP").catch(() => {}));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn(`${signal} again: closing open connections now`, { signal });
      await server.stop();
      process.exit(0);
    }
    stopping = true;
    const drainTimeoutMs = server.configs.current.drainTimeoutMs;
    log.info(`${signal}: no new connections; finishing in-flight requests (up to ${drainTimeoutMs} ms)`, { signal, drainTimeoutMs });
    const drained = await server.shutdown();
    log.info(drained ? "all requests finished, exiting" : "drain timeout reached, open connections closed, exiting", { signal, drained });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * `logFormat`: the environment's, for the server's lines while its config names none.
 * `heldSignals`: the signals the entry held while the program loaded (src/cli/held-signals.ts).
 * `started` runs once the server is up and before it logs a line here, so whoever makes the log
 * format follow the running config does so in time for the "listening" line.
 */
export async function serve(
  command: CommandOf<"serve">,
  log: Logger,
  logFormat: LogFormat | undefined,
  heldSignals: (() => readonly HeldSignal[]) | undefined,
  started: (server: RunningServer) => void,
): Promise<void> {
  warnIfFromExample(command, log);
  // Loaded only to serve: --probe (a container's health check) and --check-config never pay for the whole app.
  const startingSignalsDone = handleSignalsWhileStarting(log, heldSignals);
  const { startServer } = await import("../server/start");
  const server = await startServer({ configPath: command.configPath, port: command.port, hostname: command.hostname, log, logFormat });
  started(server);
  handleSignals(server, log); // before announcing: whoever waits for "listening" may signal at once
  if (startingSignalsDone()) void server.configs.reload("SIGHUP").catch(() => {});
  announce(server, command.hostname, log);
}
