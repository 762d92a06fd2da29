// The commands that run once and exit: --init, --probe, --check-config. Each prints its result on
// stdout and exits 0; a failure is a CliError, which src/cli.ts prints as one line in the log format.
import { loadConfig } from "../config/load";
import { maskUrlCredentials } from "../config/mask";
import type { ProxyConfig } from "../config/proxy-config";
import type { LogFields, Logger } from "../lib/log";
import { DEFAULT_CONFIG_FILE, EXAMPLE_CONFIG_FILE, type CommandOf } from "./args";
import { writeExampleConfig } from "./init-config";
import { probe } from "./probe";

/**
 * A command or start-up error: one line on stderr (text or JSON, as the log format says), then
 * exit 1. A usage error (`withHelp`) is followed by the help in text; a JSON line carries the message alone.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly fields?: LogFields,
    readonly withHelp = false,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export function initConfig({ file }: CommandOf<"init">): never {
  try {
    writeExampleConfig(file);
  } catch (error) {
    throw new CliError((error as Error).message, { file });
  }
  const serve = file === DEFAULT_CONFIG_FILE ? "cm-open-webui-proxy" : `cm-open-webui-proxy --config ${file}`;
  process.stdout.write(`wrote ${file} from the example config: edit its endpoints (url, apiKey, actualModelName), then run ${serve}\n`);
  process.exit(0);
}

export async function runProbe({ url }: CommandOf<"probe">): Promise<never> {
  const result = await probe(url);
  if (!result.ok) throw new CliError(`probe ${result.message}`, { url: maskUrlCredentials(url) });
  process.stdout.write(`${result.message}\n`);
  process.exit(0);
}

/** Valid, yet likely a mistake: no models at all (a file not yet edited, or emptied by mistake), and each of the config's own warnings. */
export function warnAboutConfig(config: ProxyConfig, log: Logger): void {
  if (config.models.size === 0 && config.sources.length === 0)
    log.warn(`${config.file} has no models (endpoints is empty): clients will see an empty model list`, { file: config.file });
  for (const warning of config.warnings) log.warn(`${config.file}: ${warning}`, { file: config.file });
}

export function warnIfFromExample({ fromExample }: CommandOf<"check" | "serve">, log: Logger): void {
  if (fromExample)
    log.warn(`${DEFAULT_CONFIG_FILE} not found: starting from ${EXAMPLE_CONFIG_FILE}; copy it to ${DEFAULT_CONFIG_FILE} and edit it`, {
      file: EXAMPLE_CONFIG_FILE,
    });
}

export async function checkConfig(command: CommandOf<"check">, log: Logger): Promise<never> {
  warnIfFromExample(command, log);
  const config = await loadConfig(command.configPath);
  warnAboutConfig(config, log);
  process.stdout.write(`${config.file}: valid, ${config.models.size} models, ${config.sources.length} discovery sources\n`);
  for (const model of config.models.values()) {
    process.stdout.write(`  ${model.id}  "${model.displayName}"\n`);
    for (const target of model.targets) {
      const provider = target.provider === "openai" ? "" : `, ${target.provider}`;
      process.stdout.write(`    ${target.name} -> ${maskUrlCredentials(target.prefix)} (${target.actualModelName}${provider})\n`);
    }
  }
  for (const source of config.sources) {
    process.stdout.write(`  ${source.prefix}*  discovered from ${maskUrlCredentials(source.template.targets[0]!.prefix)}\n`);
  }
  process.exit(0);
}
