import { usageStoreUp, type StoreStates } from "../observe/health-report";
import type { RouteContext } from "./context";

/**
 * The stores /health and /status.json list: the usage store when it is PostgreSQL, or a SQLite file
 * while it cannot be written; redis (limits and cool-downs) when `state.redis` is set.
 */
export function storeStates({ usage, redis }: RouteContext): StoreStates {
  const up = usageStoreUp(usage);
  return { ...(up !== undefined && { usage: up ? "up" : "down" }), ...(redis && { redis: redis.status }) };
}
