/**
 * A reference, not one of the three targets the bars judge: the floor's work (bench/floor.ts)
 * inside a bare Elysia app — default JSON parser, no schema, no hooks. What it costs over the
 * floor is Elysia's own share, which no change in src/ can remove.
 * Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/elysia-floor.ts [port]
 */
import { Elysia } from "elysia";
import { FLOOR_MODELS, forwardChat } from "./floor-work";

const app = new Elysia()
  .get("/health", () => new Response("ok"))
  .get("/v1/models", () => new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }))
  .post("/v1/chat/completions", ({ body }) => forwardChat(body as { model: string }))
  .listen({ hostname: "127.0.0.1", port: Number(process.argv[2] ?? 0), idleTimeout: 0 });

console.log(`LISTENING ${app.server!.port}`);
