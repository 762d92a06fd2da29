/**
 * The floor: the least any Bun proxy can do per request. Parses the JSON body, rewrites `model`,
 * sets Authorization, fetches the backend and returns its body stream. No validation, no header
 * hygiene, no timeouts. Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/floor.ts [port]
 * Prints `LISTENING <port>`. `/v1/models` answers a string rendered at start, as the proxy does.
 */
import { FLOOR_MODELS, forwardChat } from "./floor-work";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  routes: {
    "/health": new Response("ok"),
    "/v1/models": new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }),
    "/v1/chat/completions": {
      POST: async (request) => forwardChat((await request.json()) as { model: string }),
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});

console.log(`LISTENING ${server.port}`);
