import type { RedisLink } from "../cluster/redis-link";
import { ConfigError } from "../config/load";
import type { ProxyConfig } from "../config/proxy-config";
import type { Logger } from "../lib/log";
import { IssuedKeys } from "./issued-keys";
import type { KeyTable } from "./key-table";
import { PostgresKeyTable } from "./postgres-keys";
import { SqliteKeyTable } from "./sqlite-keys";

/**
 * The issued keys of the usage database the config names: PostgreSQL's `cm_proxy_keys` when
 * `usage.postgres` is set, else the `keys` table of the SQLite file; null when `usage.enabled` is
 * false (the key API then answers 503). Open after the usage store, which checks the file and the URL.
 */
export function openIssuedKeys(config: ProxyConfig, log: Logger, redis: RedisLink | null): IssuedKeys | null {
  const { enabled, postgres, path } = config.usage;
  if (!enabled) return null;
  let table: KeyTable;
  try {
    table = postgres === null ? SqliteKeyTable.open(path) : PostgresKeyTable.open(postgres);
  } catch (error) {
    const reason = ((error as Error)?.message ?? String(error)).replaceAll(postgres ?? "\0", "the URL");
    throw new ConfigError(config.file, [`${postgres === null ? "usage.path" : "usage.postgres"}: cannot keep the issued client keys there: ${reason}`]);
  }
  return new IssuedKeys(table, { log, redis });
}
