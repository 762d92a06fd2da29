import { resolve } from "node:path";
import { substituteEnv } from "./env";
import { buildProxyConfig, type ProxyConfig } from "./proxy-config";
import { configProblems } from "./validate";
import type { ConfigFile } from "./schema";

/** A config file that cannot be used; the message names the file and every bad field. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(problems.map((problem) => `${file}: ${problem}`).join("\n"));
    this.name = "ConfigError";
  }
}

async function readJson(path: string): Promise<unknown> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigError(path, ["file not found"]);
  const text = await file.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON (${(error as Error).message})`]);
  }
}

/** Reads, substitutes `${ENV}` references, validates and resolves a config file; throws ConfigError. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<ProxyConfig> {
  const absolute = resolve(path);
  const missing: string[] = [];
  const value = substituteEnv(await readJson(absolute), env, "", missing);
  const problems = [...missing, ...configProblems(value)];
  if (problems.length > 0) throw new ConfigError(absolute, problems);
  return buildProxyConfig(value as ConfigFile, absolute);
}
