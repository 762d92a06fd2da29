// Runs the command the entry parsed, and alone decides how a failure is reported (one line on
// stderr, text or JSON) and exits with it.
import { existsSync } from "node:fs";
import { ConfigError, logFormatInFile } from "../config/load";
import { UsageStoreError } from "../observe/usage/store";
import { ListenError } from "../server/listen-error";
import { consoleLogger, jsonLine, LOG_FORMAT_ENV, parseLogFormat, type LogFields, type LogFormat } from "../lib/log";
import { VERSION } from "../lib/version";
import { HELP, type CliCommand, type CommandOf } from "./args";
import { checkConfig, CliError, initConfig, runProbe } from "./commands";
import { describeError, reportCrashes } from "./crashes";
import type { HeldSignal } from "./held-signals";
import { serve } from "./serve";

/** `heldSignals`: the signals held since the entry started a `serve` (src/cli/held-signals.ts), for it to take over. */
export async function main(command: CliCommand, env: Record<string, string | undefined>, heldSignals?: () => readonly HeldSignal[]): Promise<void> {
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

  /** The commands that read the config file, whose log.format is the format from here on. */
  const runWithConfig = async (command: CommandOf<"probe" | "check" | "serve">): Promise<void> => {
    const fileFormat = logFormatInFile(command.configPath, env);
    configured = () => fileFormat;
    syncCrashReports();
    if (env[LOG_FORMAT_ENV] && !envFormat) throw new CliError(`${LOG_FORMAT_ENV}: expected text or json, got '${env[LOG_FORMAT_ENV]}'`);
    if (command.kind === "probe") return runProbe(command);
    if (command.kind === "check") return checkConfig(command, log);
    return serve(command, log, envFormat, heldSignals, (server) => {
      configured = () => server.configs.current.log.format;
      syncCrashReports();
      server.configs.onChange(async () => syncCrashReports());
    });
  };

  try {
    switch (command.kind) {
      case "help":
        process.stdout.write(HELP);
        return process.exit(0);
      case "version":
        process.stdout.write(`${VERSION}\n`);
        return process.exit(0);
      case "usage-error":
        throw new CliError(command.message, undefined, command.withHelp);
      case "init":
        return initConfig(command);
      default:
        return await runWithConfig(command);
    }
  } catch (error) {
    if (error instanceof CliError) fail(error.message, error.fields, error.withHelp);
    if (error instanceof ConfigError && !existsSync(error.file))
      fail(`${error.file}: file not found (run with --init to write a starting config there)`, { file: error.file });
    if (error instanceof UsageStoreError) fail(error.message, { file: error.file });
    if (error instanceof ConfigError) fail(`invalid configuration\n${error.message}`, { file: error.file, problems: error.problems });
    if (error instanceof ListenError) fail(error.message, { address: error.address });
    // Anything else is a bug: Bun prints it with its stack (exit 1), or, in JSON mode, one line does.
    if (format() === "json") fail(`start-up failed: ${(error as Error)?.message ?? String(error)}`, { error: describeError(error) });
    throw error;
  }
}
