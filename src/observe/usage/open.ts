import type { ProxyConfig } from "../../config/proxy-config";
import type { Logger } from "../../lib/log";
import { PostgresUsageStore } from "./postgres-store";
import { SqliteUsageStore } from "./sqlite-store";
import type { UsageStore, UsageStoreOptions } from "./store";

/**
 * The usage store the config asks for: null when `usage.enabled` is false (no file is created);
 * the shared PostgreSQL table when `usage.postgres` is set (a server that is away does not stop
 * the start: rows queue); else the SQLite file at `usage.path`. Throws a ConfigError when the file
 * cannot be used or the URL is not one.
 */
export function openUsageStore(config: ProxyConfig, current: () => ProxyConfig, log: Logger): UsageStore | null {
  const { enabled, postgres, path, queueSize } = config.usage;
  if (!enabled) return null;
  const options: UsageStoreOptions = { configFile: config.file, queueSize, retentionDays: () => current().usage.retentionDays, log };
  return postgres === null ? SqliteUsageStore.open({ ...options, path }) : PostgresUsageStore.open({ ...options, url: postgres });
}
