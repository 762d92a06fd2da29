import type { ConfigStore } from "../config/store";
import type { Logger } from "../log";

/** What every route plugin factory receives: the shared state, passed in, never a module global. */
export interface RouteContext {
  readonly store: ConfigStore;
  readonly log: Logger;
}

/** Every client-facing route is served both bare and under `/v1` (Open WebUI users set either base URL). */
export const ROUTE_PREFIXES = ["", "/v1"] as const;

const JSON_HEADERS = { "content-type": "application/json" } as const;

/** Every JSON body the proxy writes itself (pre-rendered lists, errors) leaves through here. */
export function jsonResponse(json: string, status = 200): Response {
  return new Response(json, { status, headers: JSON_HEADERS });
}

/** The query string of a request URL including its `?`, or "" — without parsing the whole URL. */
export function searchOf(url: string): string {
  const at = url.indexOf("?");
  return at === -1 ? "" : url.slice(at);
}
