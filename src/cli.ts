#!/usr/bin/env bun
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, logFormatInFile } from "./config/load";
import { UsageStoreError } from "./observe/usage/store";
import { maskUrlCredentials } from "./config/mask";
import type { ProxyConfig } from "./config/proxy-config";
import type { RunningServer } from "./server/start";
import { writeExampleConfig } from "./cli/init-config";
import { ensureInFlightLimit, MAX_IN_FLIGHT_ENV } from "./cli/in-flight";
import { hostPort, ListenError } from "./server/listen-error";
import { consoleLogger, jsonLine, LOG_FORMAT_ENV, parseLogFormat, type LogFields, type LogFormat, type Logger } from "./lib/log";
import { defaultProbeUrl, probe, PROBE_TIMEOUT_MS } from "./cli/probe";
import { VERSION } from "./lib/version";

const DEFAULT_CONFIG = "config.json";
const EXAMPLE_CONFIG = "config.example.json";

const HELP = `cm-open-webui-proxy ${VERSION}
OpenAI-compatible proxy: many LLM backends behind one endpoint.

Usage: cm-open-webui-proxy [options]
       cm-open-webui-proxy --init [file]
       cm-open-webui-proxy --probe [url]

Options:
  --config <file>   config file (env CM_OPEN_WEBUI_PROXY_CONFIG_FILE, default ${DEFAULT_CONFIG})
  --port <n>        port to listen on (env CM_OPEN_WEBUI_PROXY_PORT, default 3333)
  --host <addr>     address to bind (default 0.0.0.0)
  --check-config    validate the config file, print its models, exit 0 (valid) or 1
  --init [file]     write an example config to start from, then exit: to <file>, else the
                    config file named as above, else ${DEFAULT_CONFIG}; an existing file is never replaced
  --probe [url]     health check for images without curl: GET <url> (default
                    http://127.0.0.1:<port>/ready, port as above), exit 0 on a 2xx, else 1 with
                    the reason on stderr; gives up after ${PROBE_TIMEOUT_MS / 1000} s
  --version         print the version
  --help            print this help

Environment: CM_OPEN_WEBUI_PROXY_LOG_FORMAT=json|text is the log format when the config's
log.format names none, and for errors before the config is read.

Serving re-executes the program once with BUN_CONFIG_MAX_HTTP_REQUESTS set to the config's
maxInFlight (default 4096 backend requests in flight) unless that variable is already set.
`;

interface CliOptions {
  configPath: string;
  port: number;
  hostname: string;
  checkOnly: boolean;
  /** config.json is missing and config.example.json stands in for it. */
  fromExample: boolean;
  /** --probe: the URL to check instead of serving. */
  probeUrl?: string;
}

/**
 * A command or start-up error: one line on stderr (text or JSON, as the log format says), then
 * exit 1. A usage error (`withHelp`) is followed by the help in text; a JSON line carries the message alone.
 */
class CliError extends Error {
  constructor(message: string, readonly fields?: LogFields, readonly withHelp = false) {
    super(message);
    this.name = "CliError";
  }
}

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`${source}: expected a port number, got '${text}'`);
  return port;
}

/** A named config file must exist; with none named, a missing config.json falls back to the example. */
function chooseConfig(named: string | undefined): string {
  if (named) return named;
  if (existsSync(DEFAULT_CONFIG) || !existsSync(EXAMPLE_CONFIG)) return DEFAULT_CONFIG;
  return EXAMPLE_CONFIG;
}

function initConfig(path: string): never {
  try {
    writeExampleConfig(path);
  } catch (error) {
    throw new CliError((error as Error).message, { file: path });
  }
  const serve = path === DEFAULT_CONFIG ? "cm-open-webui-proxy" : `cm-open-webui-proxy --config ${path}`;
  process.stdout.write(`wrote ${path} from the example config: edit its endpoints (url, apiKey, actualModelName), then run ${serve}\n`);
  process.exit(0);
}

function parseCli(argv: string[], env: Record<string, string | undefined>): CliOptions {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "check-config": { type: "boolean" },
        init: { type: "boolean" },
        probe: { type: "boolean" },
        version: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: true, // only --init (its file) and --probe (its URL) take one
    }));
  } catch (error) {
    throw new CliError((error as Error).message, undefined, true);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    process.exit(0);
  }
  const named = values.config ?? (env.CM_OPEN_WEBUI_PROXY_CONFIG_FILE || undefined);
  const [file, extra] = positionals;
  if (values.init && values.probe) throw new CliError("--init and --probe cannot be combined", undefined, true);
  if (extra !== undefined || (file !== undefined && !values.init && !values.probe)) throw new CliError(`unexpected argument '${extra ?? file}'`, undefined, true);
  if (values.init) initConfig(file ?? named ?? DEFAULT_CONFIG);
  const port = values.port !== undefined
    ? parsePort(values.port, "--port")
    : env.CM_OPEN_WEBUI_PROXY_PORT ? parsePort(env.CM_OPEN_WEBUI_PROXY_PORT, "CM_OPEN_WEBUI_PROXY_PORT") : 3333;
  const configPath = chooseConfig(named);
  return {
    configPath,
    port,
    hostname: values.host ?? "0.0.0.0",
    checkOnly: values["check-config"] ?? false,
    fromExample: configPath === EXAMPLE_CONFIG && !named,
    ...(values.probe && { probeUrl: file ?? defaultProbeUrl(port) }),
  };
}

/** Valid, yet serves nothing: most likely a file not yet edited, or emptied by mistake. */
function warnIfNoModels(config: ProxyConfig, log: Logger): void {
  if (config.models.size === 0 && config.sources.length === 0) log.warn(`${config.file} has no models (endpoints is empty): clients will see an empty model list`);
}

async function checkConfig(path: string, log: Logger): Promise<never> {
  const config = await loadConfig(path);
  warnIfNoModels(config, log);
  process.stdout.write(`${config.file}: valid, ${config.models.size} models, ${config.sources.length} discovery sources\n`);
  for (const model of config.models.values()) {
    process.stdout.write(`  ${model.id}  "${model.displayName}"\n`);
    for (const target of model.targets) {
      process.stdout.write(`    ${target.name} -> ${maskUrlCredentials(target.prefix)} (${target.actualModelName})\n`);
    }
  }
  for (const source of config.sources) {
    process.stdout.write(`  ${source.prefix}*  discovered from ${maskUrlCredentials(source.template.targets[0]!.prefix)}\n`);
  }
  process.exit(0);
}

function announce(server: RunningServer, hostname: string, log: Logger): void {
  const config = server.configs.current;
  const limit = process.env[MAX_IN_FLIGHT_ENV];
  const address = hostPort(hostname, server.port);
  const models = server.catalogs.current.models.size;
  log.info(
    `cm-open-webui-proxy ${VERSION} listening on ${address} with ${models} models from ${config.file}, up to ${limit || "256 (Bun's default)"} backend requests in flight`,
    { version: VERSION, address, models, file: config.file, maxInFlight: Number(limit) || 256 },
  );
  warnIfNoModels(config, log);
  if (config.clients.keys.length === 0) {
    log.warn("no clientKeys configured: any client that can reach this port may use every model", { address });
  }
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

async function runProbe(url: string): Promise<never> {
  const result = await probe(url);
  if (!result.ok) throw new CliError(`probe ${result.message}`);
  process.stdout.write(`${result.message}\n`);
  process.exit(0);
}

const describeError = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/**
 * An exception nothing caught, or a rejection nothing handled: in JSON mode one JSON error line
 * (an exception then exits 1, and a rejection lets serving go on, as Bun does with them); in text
 * mode Bun prints them as it always has, because the handlers are installed only while the format
 * is JSON. The returned function re-reads the format: call it whenever the format may have changed.
 */
function reportCrashes(format: () => LogFormat, log: Logger): () => void {
  const uncaught = (error: unknown) => {
    log.error(`uncaught exception, exiting: ${(error as Error)?.message ?? String(error)}`, { error: describeError(error) });
    process.exit(1);
  };
  const unhandled = (reason: unknown) => {
    log.error(`unhandled promise rejection: ${(reason as Error)?.message ?? String(reason)}`, { error: describeError(reason) });
    process.exitCode = 1;
  };
  let installed = false;
  return () => {
    const json = format() === "json";
    if (json === installed) return;
    installed = json;
    if (json) {
      process.on("uncaughtException", uncaught);
      process.on("unhandledRejection", unhandled);
    } else {
      process.off("uncaughtException", uncaught);
      process.off("unhandledRejection", unhandled);
    }
  };
}

async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  // The log format, first found: the running config's log.format; before the server runs, the
  // config file's log.format when the file can be read; CM_OPEN_WEBUI_PROXY_LOG_FORMAT; text.
  const envFormat = parseLogFormat(env[LOG_FORMAT_ENV]);
  let configured = (): LogFormat | undefined => undefined;
  const format = (): LogFormat => configured() ?? envFormat ?? "text";
  const log = consoleLogger(undefined, format);
  const fail = (message: string, fields?: LogFields, withHelp = false): never => {
    process.stderr.write(format() === "json" ? jsonLine("error", message, fields) : `cm-open-webui-proxy: ${message}${withHelp ? `\n\n${HELP}` : ""}\n`);
    process.exit(1);
  };
  const syncCrashReports = reportCrashes(format, log);
  syncCrashReports();
  try {
    const { probeUrl, fromExample, ...options } = parseCli(process.argv.slice(2), env);
    const fileFormat = logFormatInFile(options.configPath, env);
    configured = () => fileFormat;
    syncCrashReports();
    if (env[LOG_FORMAT_ENV] && !envFormat) throw new CliError(`${LOG_FORMAT_ENV}: expected text or json, got '${env[LOG_FORMAT_ENV]}'`);
    if (probeUrl !== undefined) await runProbe(probeUrl);
    // Before anything is printed: this may start the program again (same PID) with a higher fetch limit.
    if (!options.checkOnly) await ensureInFlightLimit(options.configPath);
    if (fromExample) log.warn(`${DEFAULT_CONFIG} not found: starting from ${EXAMPLE_CONFIG}; copy it to ${DEFAULT_CONFIG} and edit it`, { file: EXAMPLE_CONFIG });
    if (options.checkOnly) await checkConfig(options.configPath, log);
    // Loaded only now: a process that re-executes itself above never pays for the whole app.
    const { startServer } = await import("./server/start");
    const server = await startServer({ ...options, log, logFormat: envFormat });
    configured = () => server.configs.current.log.format;
    syncCrashReports();
    server.configs.onChange(async () => syncCrashReports());
    handleSignals(server, log); // before announcing: whoever waits for "listening" may signal at once
    announce(server, options.hostname, log);
  } catch (error) {
    if (error instanceof CliError) fail(error.message, error.fields, error.withHelp);
    if (error instanceof ConfigError && !existsSync(error.file)) fail(`${error.file}: file not found (run with --init to write a starting config there)`, { file: error.file });
    if (error instanceof UsageStoreError) fail(error.message, { file: error.file });
    if (error instanceof ConfigError) fail(`invalid configuration\n${error.message}`, { file: error.file, problems: error.problems });
    if (error instanceof ListenError) fail(error.message);
    // Anything else is a bug: Bun prints it with its stack (exit 1), or, in JSON mode, one line does.
    if (format() === "json") fail(`start-up failed: ${(error as Error)?.message ?? String(error)}`, { error: describeError(error) });
    throw error;
  }
}

await main();
