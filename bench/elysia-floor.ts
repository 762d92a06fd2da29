/**
 * A reference, not one of the three targets the bars judge: the floor's work (bench/floor.ts)
 * inside a bare Elysia app — default JSON parser, no schema, no hooks. What it costs over the
 * floor is Elysia's own share, which no change in src/ can remove.
 * Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/elysia-floor.ts [port]
 */
import { Elysia } from "elysia";
import { BACKEND_KEY, BACKEND_MODEL, CLIENT_MODEL } from "./shared";

const backend = `${process.env.FLOOR_BACKEND ?? "http://127.0.0.1:8000"}/v1/chat/completions`;
const authorization = `Bearer ${BACKEND_KEY}`;
const models = JSON.stringify({
  object: "list",
  data: [{ id: CLIENT_MODEL, object: "model", created: 1735689600, owned_by: "floor", name: CLIENT_MODEL }],
});

const app = new Elysia()
  .get("/health", () => new Response("ok"))
  .get("/v1/models", () => new Response(models, { headers: { "content-type": "application/json" } }))
  .post("/v1/chat/completions", async ({ body }) => {
    (body as { model: string }).model = BACKEND_MODEL;
    const upstream = await fetch(backend, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify(body),
    });
    return new Response(upstream.body, {
      status: upstream.status,
      headers: { "content-type": upstream.headers.get("content-type") ?? "application/json" },
    });
  })
  .listen({ hostname: "127.0.0.1", port: Number(process.argv[2] ?? 0), idleTimeout: 0 });

console.log(`LISTENING ${app.server!.port}`);
