#!/usr/bin/env bun
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config/load";
import { UsageStoreError } from "./observe/usage/store";
import { maskUrlCredentials } from "./config/mask";
import type { ProxyConfig } from "./config/proxy-config";
import type { RunningServer } from "./index";
import { writeExampleConfig } from "./init-config";
import { ensureInFlightLimit, MAX_IN_FLIGHT_ENV } from "./in-flight";
import { hostPort, ListenError } from "./listen-error";
import { consoleLogger, type Logger } from "./log";
import { defaultProbeUrl, probe, PROBE_TIMEOUT_MS } from "./probe";
import { VERSION } from "./version";

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

function fail(message: string): never {
  process.stderr.write(`cm-open-webui-proxy: ${message}\n`);
  process.exit(1);
}

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${source}: expected a port number, got '${text}'`);
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
    fail((error as Error).message);
  }
  const serve = path === DEFAULT_CONFIG ? "cm-open-webui-proxy" : `cm-open-webui-proxy --config ${path}`;
  process.stdout.write(`wrote ${path} from the example config: edit its endpoints (url, apiKey, actualModelName), then run ${serve}\n`);
  process.exit(0);
}

function parseCli(argv: string[]): CliOptions {
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
    fail(`${(error as Error).message}\n\n${HELP}`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    process.exit(0);
  }
  const env = process.env;
  const named = values.config ?? (env.CM_OPEN_WEBUI_PROXY_CONFIG_FILE || undefined);
  const [file, extra] = positionals;
  if (values.init && values.probe) fail(`--init and --probe cannot be combined\n\n${HELP}`);
  if (extra !== undefined || (file !== undefined && !values.init && !values.probe)) fail(`unexpected argument '${extra ?? file}'\n\n${HELP}`);
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
  const config = server.store.current;
  const inFlight = process.env[MAX_IN_FLIGHT_ENV] || "256 (Bun's default)";
  log.info(
    `cm-open-webui-proxy ${VERSION} listening on ${hostPort(hostname, server.port)} with ${server.catalogs.current.models.size} models from ${config.file}, up to ${inFlight} backend requests in flight`,
  );
  warnIfNoModels(config, log);
  if (config.clients.keys.length === 0) {
    log.warn("no clientKeys configured: any client that can reach this port may use every model");
  }
}

/** SIGHUP reloads the config; SIGTERM/SIGINT drain in-flight requests, then exit (a second one forces). */
function handleSignals(server: RunningServer, log: Logger): void {
  process.on("SIGHUP", () => void server.store.reload("SIGHUP").catch(() => {}));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn(`${signal} again: closing open connections now`);
      await server.stop();
      process.exit(0);
    }
    stopping = true;
    log.info(`${signal}: no new connections; finishing in-flight requests (up to ${server.store.current.drainTimeoutMs} ms)`);
    const drained = await server.shutdown();
    log.info(drained ? "all requests finished, exiting" : "drain timeout reached, open connections closed, exiting");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function runProbe(url: string): Promise<never> {
  const result = await probe(url);
  if (!result.ok) fail(`probe ${result.message}`);
  process.stdout.write(`${result.message}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  const log = consoleLogger();
  const { probeUrl, fromExample, ...options } = parseCli(process.argv.slice(2));
  if (probeUrl !== undefined) await runProbe(probeUrl);
  // Before anything is printed: this may start the program again (same PID) with a higher fetch limit.
  if (!options.checkOnly) await ensureInFlightLimit(options.configPath);
  if (fromExample) log.warn(`${DEFAULT_CONFIG} not found: starting from ${EXAMPLE_CONFIG}; copy it to ${DEFAULT_CONFIG} and edit it`);
  try {
    if (options.checkOnly) await checkConfig(options.configPath, log);
    // Loaded only now: a process that re-executes itself above never pays for the whole app.
    const { startServer } = await import("./index");
    const server = await startServer({ ...options, log });
    handleSignals(server, log); // before announcing: whoever waits for "listening" may signal at once
    announce(server, options.hostname, log);
  } catch (error) {
    if (error instanceof ConfigError && !existsSync(error.file)) fail(`${error.file}: file not found (run with --init to write a starting config there)`);
    if (error instanceof UsageStoreError) fail(error.message);
    if (error instanceof ConfigError) fail(`invalid configuration\n${error.message}`);
    if (error instanceof ListenError) fail(error.message);
    throw error;
  }
}

await main();
