// The floor's whole per-request work (bench/floor.ts), the `/v1/models` body every bench server
// answers, and the bare Bun.serve both Bun floors run in; bench/required-work.ts is the same work
// plus the behaviour the core issue requires.
import { BACKEND_KEY, BACKEND_MODEL, CLIENT_MODEL } from "./shared";

const backend = `${process.env.FLOOR_BACKEND ?? "http://127.0.0.1:8000"}/v1/chat/completions`;
const authorization = `Bearer ${BACKEND_KEY}`;

export const FLOOR_MODELS = JSON.stringify({
  object: "list",
  data: [{ id: CLIENT_MODEL, object: "model", created: 1735689600, owned_by: "floor", name: CLIENT_MODEL }],
});

/** Rewrites `model`, sets Authorization, fetches the backend and returns its body stream. */
export async function forwardChat(body: { model: string }): Promise<Response> {
  body.model = BACKEND_MODEL;
  const upstream = await fetch(backend, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify(body),
  });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: { "content-type": upstream.headers.get("content-type") ?? "application/json" },
  });
}

/**
 * A bare Bun.serve with the routes every bench target answers, `chat` on POST /v1/chat/completions.
 * Port from argv[2] (0: any); prints `LISTENING <port>` once ready.
 */
export function serveFloor(chat: (request: Request) => Promise<Response>): void {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.argv[2] ?? 0),
    idleTimeout: 0,
    routes: {
      "/health": new Response("ok"),
      "/v1/models": new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }),
      "/v1/chat/completions": { POST: chat },
    },
    fetch: () => new Response("not found", { status: 404 }),
  });
  console.log(`LISTENING ${server.port}`);
}
