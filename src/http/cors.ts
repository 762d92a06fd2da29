import { Elysia } from "elysia";

const PREFLIGHT_MAX_AGE = "600";

/**
 * CORS for browser clients (Open WebUI direct connections, the OpenAI JS SDK in a browser).
 * Clients authenticate with bearer keys, not cookies, so any origin may call and read every
 * response header; preflights allow whatever headers the browser asks for (`x-stainless-*`,
 * `authorization`, …). Requests without an Origin header (servers, SDKs) skip all of it.
 */
export const corsPlugin = () =>
  new Elysia({ name: "cors" }).onRequest(({ request, set }) => {
    if (!request.headers.has("origin")) return;
    set.headers["access-control-allow-origin"] = "*";
    set.headers["access-control-expose-headers"] = "*";
    if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return;
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": request.headers.get("access-control-request-headers") ?? "*",
        "access-control-max-age": PREFLIGHT_MAX_AGE,
      },
    });
  });
