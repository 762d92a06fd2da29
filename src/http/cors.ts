import { Elysia } from "elysia";
import type { Observability } from "../observe/observability";

const PREFLIGHT_MAX_AGE = "600";

/**
 * CORS for browser clients (Open WebUI direct connections, the OpenAI JS SDK in a browser).
 * Clients authenticate with bearer keys, not cookies, so any origin may call and read every
 * response header; preflights allow whatever headers the browser asks for (`x-stainless-*`,
 * `authorization`, …). Requests without an Origin header (servers, SDKs) skip all of it.
 */
export const corsPlugin = (observe: Observability) =>
  new Elysia({ name: "cors" }).onRequest(({ request, set }) => {
    if (!request.headers.has("origin")) return;
    set.headers["access-control-allow-origin"] = "*";
    set.headers["access-control-expose-headers"] = "*";
    if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return;
    const headers: Record<string, string> = {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": request.headers.get("access-control-request-headers") ?? "*",
      "access-control-max-age": PREFLIGHT_MAX_AGE,
    };
    // Answered before any route, so no later hook ends its record: it ends here.
    const record = observe.of(request);
    if (record) {
      headers["x-request-id"] = record.id;
      record.end(204, "ok");
    }
    return new Response(null, { status: 204, headers });
  });
