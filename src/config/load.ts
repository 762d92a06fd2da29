import { resolve } from "node:path";
import { duplicateEndpointIds } from "./duplicate-ids";
import { substituteEnv } from "./env";
import { readJsonFileSync } from "./read-json";
import { buildProxyConfig, type ProxyConfig } from "./proxy-config";
import { configProblems, crossFieldProblems } from "./validate";
import { HEADER_SECRET, isHeaderSecret, type ConfigFile } from "./schema";

/** A config file that cannot be used; the message names the file and every bad field. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(problems.map((problem) => `${file}: ${problem}`).join("\n"));
    this.name = "ConfigError";
  }
}

async function readJson(path: string): Promise<unknown> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigError(path, ["file not found"]);
  const text = await file.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // The parser may quote a token of the file, which could be part of a key: keep only its words.
    const reason = (error as Error).message.replace(/"[^"]*"/g, "token");
    throw new ConfigError(path, [`not valid JSON (${reason})`]);
  }
  const duplicates = duplicateEndpointIds(text);
  if (duplicates.length > 0)
    throw new ConfigError(
      path,
      duplicates.map((id) => `endpoints.${id}: listed twice; only the last would be used (rename one)`),
    );
  return value;
}

/** Reads, substitutes `${ENV}` references, validates and resolves a config file; throws ConfigError. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<ProxyConfig> {
  const absolute = resolve(path);
  const missing: string[] = [];
  const value = substituteEnv(await readJson(absolute), env, "", missing);
  const problems = [...missing, ...configProblems(value)];
  if (problems.length === 0) problems.push(...crossFieldProblems(value as ConfigFile));
  if (problems.length > 0) throw new ConfigError(absolute, problems);
  const file = value as ConfigFile;
  const adminKey = file.adminKey ?? (env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY || undefined);
  // The file's own is checked by the schema; the environment's the same way.
  if (adminKey !== undefined && !isHeaderSecret(adminKey)) throw new ConfigError(absolute, [`CM_OPEN_WEBUI_PROXY_ADMIN_KEY: ${HEADER_SECRET.error}`]);
  return buildProxyConfig({ ...file, adminKey }, absolute);
}

/**
 * Best effort, for lines written before the config is loaded (or when it cannot be): the file's
 * `log.format` (after `${ENV}` substitution) when the file reads as JSON and names "text" or
 * "json", else undefined. Never throws.
 */
export function logFormatInFile(path: string, env: Record<string, string | undefined> = process.env): "text" | "json" | undefined {
  try {
    const format = substituteEnv((readJsonFileSync(path) as { log?: { format?: unknown } } | null)?.log?.format, env);
    return format === "text" || format === "json" ? format : undefined;
  } catch {
    return undefined;
  }
}
