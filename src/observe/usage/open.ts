import type { ProxyConfig } from "../../config/proxy-config";
import type { Logger } from "../../log";
import { PostgresUsageStore } from "./postgres-store";
import { openUsageStore as openSqliteUsageStore } from "./sqlite-store";
import type { UsageStore } from "./store";

/**
 * The usage store the config asks for: null when `usage.enabled` is false; the shared PostgreSQL
 * table when `usage.postgres` is set (a server that is away does not stop the start: rows queue);
 * else the SQLite file at `usage.path`. Throws a ConfigError when the file cannot be used or the
 * URL is not one.
 */
export function openUsageStore(config: ProxyConfig, current: () => ProxyConfig, log: Logger): UsageStore | null {
  const { enabled, postgres, queueSize } = config.usage;
  if (!enabled) return null;
  if (postgres === null) return openSqliteUsageStore(config, current, log);
  return PostgresUsageStore.open({ url: postgres, configFile: config.file, queueSize, retentionDays: () => current().usage.retentionDays, log });
}
