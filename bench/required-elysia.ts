// A reference, not one of the three targets the bars judge: the required floor's work
// (bench/required-work.ts) as one route of a bare Elysia app — no schema, no hooks, no body
// parsing by Elysia. What it costs over bench/required-floor.ts is Elysia's own share; when it
// misses a bar, no Elysia proxy that keeps the required behaviour can meet it.
// Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/required-elysia.ts [port]
import { Elysia } from "elysia";
import { FLOOR_MODELS } from "./floor-work";
import { forwardChatRequired } from "./required-work";

const app = new Elysia()
  .get("/health", () => new Response("ok"))
  .get("/v1/models", () => new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }))
  .post("/v1/chat/completions", ({ request }) => forwardChatRequired(request))
  .listen({ hostname: "127.0.0.1", port: Number(process.argv[2] ?? 0), idleTimeout: 0 });

console.log(`LISTENING ${app.server!.port}`);
