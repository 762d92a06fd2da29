#!/usr/bin/env bun
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config/load";
import { startServer, type RunningServer } from "./index";
import { consoleLogger, type Logger } from "./log";
import { VERSION } from "./version";

const DEFAULT_CONFIG = "config.json";
const EXAMPLE_CONFIG = "config.example.json";

const HELP = `cm-open-webui-proxy ${VERSION}
OpenAI-compatible proxy: many LLM backends behind one endpoint.

Usage: cm-open-webui-proxy [options]

Options:
  --config <file>   config file (env CM_OPEN_WEBUI_PROXY_CONFIG_FILE, default ${DEFAULT_CONFIG})
  --port <n>        port to listen on (env CM_OPEN_WEBUI_PROXY_PORT, default 3333)
  --host <addr>     address to bind (default 0.0.0.0)
  --check-config    validate the config file, print its models, exit 0 (valid) or 1
  --version         print the version
  --help            print this help
`;

interface CliOptions {
  configPath: string;
  port: number;
  hostname: string;
  checkOnly: boolean;
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
function chooseConfig(named: string | undefined, log: Logger): string {
  if (named) return named;
  if (existsSync(DEFAULT_CONFIG) || !existsSync(EXAMPLE_CONFIG)) return DEFAULT_CONFIG;
  log.warn(`${DEFAULT_CONFIG} not found: starting from ${EXAMPLE_CONFIG}; copy it to ${DEFAULT_CONFIG} and edit it`);
  return EXAMPLE_CONFIG;
}

function parseCli(argv: string[], log: Logger): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "check-config": { type: "boolean" },
        version: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
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
  const port = values.port !== undefined
    ? parsePort(values.port, "--port")
    : env.CM_OPEN_WEBUI_PROXY_PORT ? parsePort(env.CM_OPEN_WEBUI_PROXY_PORT, "CM_OPEN_WEBUI_PROXY_PORT") : 3333;
  return {
    configPath: chooseConfig(values.config ?? (env.CM_OPEN_WEBUI_PROXY_CONFIG_FILE || undefined), log),
    port,
    hostname: values.host ?? "0.0.0.0",
    checkOnly: values["check-config"] ?? false,
  };
}

async function checkConfig(path: string): Promise<never> {
  const config = await loadConfig(path);
  process.stdout.write(`${config.file}: valid, ${config.targets.size} models\n`);
  for (const target of config.targets.values()) {
    process.stdout.write(`  ${target.id}  "${target.displayName}" -> ${target.prefix} (${target.actualModelName})\n`);
  }
  process.exit(0);
}

function announce(server: RunningServer, hostname: string, log: Logger): void {
  const config = server.store.current;
  log.info(`cm-open-webui-proxy ${VERSION} listening on ${hostname}:${server.port} with ${config.targets.size} models from ${config.file}`);
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

async function main(): Promise<void> {
  const log = consoleLogger();
  const options = parseCli(process.argv.slice(2), log);
  try {
    if (options.checkOnly) await checkConfig(options.configPath);
    const server = await startServer({ ...options, log });
    handleSignals(server, log); // before announcing: whoever waits for "listening" may signal at once
    announce(server, options.hostname, log);
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration\n${error.message}`);
    throw error;
  }
}

await main();
