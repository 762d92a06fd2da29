/**
 * The floor: the least any Bun proxy can do per request. Parses the JSON body, rewrites `model`,
 * sets Authorization, fetches the backend and returns its body stream. No validation, no header
 * hygiene, no timeouts. Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/floor.ts [port]
 * Prints `LISTENING <port>`. `/v1/models` answers a string rendered at start, as the proxy does.
 */
import { BACKEND_KEY, BACKEND_MODEL, CLIENT_MODEL } from "./shared";

const backend = `${process.env.FLOOR_BACKEND ?? "http://127.0.0.1:8000"}/v1/chat/completions`;
const authorization = `Bearer ${BACKEND_KEY}`;
const models = JSON.stringify({
  object: "list",
  data: [{ id: CLIENT_MODEL, object: "model", created: 1735689600, owned_by: "floor", name: CLIENT_MODEL }],
});

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  routes: {
    "/health": new Response("ok"),
    "/v1/models": new Response(models, { headers: { "content-type": "application/json" } }),
    "/v1/chat/completions": {
      async POST(request) {
        const body = (await request.json()) as { model: string };
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
      },
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});

console.log(`LISTENING ${server.port}`);
