/**
 * A reference, not one of the three targets the bars judge: the floor plus only the behaviour the
 * core issue requires of every proxy (bench/required-work.ts), in a bare Bun.serve. What it costs
 * over the floor is Bun's price for that behaviour, which no proxy can skip; when it misses a bar,
 * no Bun proxy that keeps the required behaviour can meet it.
 * Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/required-floor.ts [port]
 */
import { FLOOR_MODELS } from "./floor-work";
import { forwardChatRequired } from "./required-work";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 0,
  routes: {
    "/health": new Response("ok"),
    "/v1/models": new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }),
    "/v1/chat/completions": { POST: forwardChatRequired },
  },
  fetch: () => new Response("not found", { status: 404 }),
});

console.log(`LISTENING ${server.port}`);
