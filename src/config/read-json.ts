// The config file as JSON for the readers that run before the config is loaded (Bun's fetch limit,
// the log format of start-up errors): only node:fs, so the entry point's re-exec stays cheap.
import { readFileSync } from "node:fs";

/**
 * Parses the file at `path` (throws as reading or JSON.parse do). A leading UTF-8 byte order mark,
 * which Windows editors write, is left out, as `Bun.file().text()` leaves it out for loadConfig:
 * else a file the proxy loads would lose its maxInFlight and log.format here.
 */
export function readJsonFileSync(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8").replace(/^\uFEFF/, ""));
}
