import type { LiveCatalog } from "../catalog/live-catalog";
import type { LiveConfig } from "../config/live-config";
import type { Logger } from "../lib/log";
import type { MetricsRegistry } from "../observe/metrics/registry";
import type { Observability } from "../observe/observability";
import type { RecentStats } from "../observe/recent";
import type { UsageStore } from "../observe/usage/store";
import type { IssuedKeys } from "../keys/issued-keys";
import type { Limiter } from "../limits/limiter";
import type { Dispatcher } from "../proxy/dispatch";
import type { RedisLink } from "../cluster/redis-link";
import type { TargetStates } from "../targets/target-states";

/** What every route plugin factory receives: the shared state, passed in, never a module global. */
export interface RouteContext {
  readonly configs: LiveConfig;
  readonly catalogs: LiveCatalog;
  readonly states: TargetStates;
  readonly dispatcher: Dispatcher;
  /** The limits: /health and the status page show their use. */
  readonly limiter: Limiter;
  readonly log: Logger;
  readonly observe: Observability;
  /** What `/metrics` renders; other modules may register their own families on it. */
  readonly metrics: MetricsRegistry;
  /** The last 5 minutes per model and target, and tokens today: what the status page shows. */
  readonly recent: RecentStats;
  /** Where usage rows go and `/usage` reads them; null when `usage.enabled` is false. */
  readonly usage: UsageStore | null;
  /** The client keys issued at runtime (`/admin/keys`), kept in the usage database; null when `usage.enabled` is false. */
  readonly keys: IssuedKeys | null;
  /** The connection to `state.redis` (shared limits and cool-downs): /health says when it is down. Absent without Redis. */
  readonly redis?: RedisLink | null;
  /** The address a request came from (undefined when unknown): admin routes without a key answer loopback only. */
  readonly clientAddress: (request: Request) => string | undefined;
  /** False until the server is serving, and again once it is shutting down. */
  readonly ready: () => boolean;
}

/** Every client-facing route is served both bare and under `/v1` (Open WebUI users set either base URL). */
export const ROUTE_PREFIXES = ["", "/v1"] as const;

/** The query string of a request URL including its `?`, or "" — without parsing the whole URL. */
export function searchOf(url: string): string {
  const at = url.indexOf("?");
  return at === -1 ? "" : url.slice(at);
}
