// A fast mock OpenAI backend for the benchmark. Usage: bun bench/mock-backend.ts [port]
// Prints `LISTENING <port>` once ready. Records nothing on the hot path.
//
//   GET  /v1/models             static list
//   POST /v1/chat/completions   ~600-byte chat.completion, or with "stream": true an SSE stream of
//                               `bench_chunks` events (default 20) `bench_delay_ms` apart (default 10),
//                               the first sent at once, then `data: [DONE]`.
import { CHAT_REPLY, MODELS_REPLY, SSE_DONE, sseChunk } from "./shared";

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const replyBytes = new TextEncoder().encode(CHAT_REPLY);

function stream(nonce: string, chunks: number, delayMs: number): Response {
  const body = new ReadableStream({
    type: "direct",
    async pull(controller) {
      for (let i = 0; i < chunks; i++) {
        if (i > 0) await Bun.sleep(delayMs);
        controller.write(sseChunk(nonce, i));
        await controller.flush();
      }
      controller.write(SSE_DONE);
      await controller.flush();
      controller.close();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  idleTimeout: 60,
  routes: {
    "/v1/models": new Response(MODELS_REPLY, { headers: JSON_HEADERS }),
    "/health": new Response("ok"),
    "/v1/chat/completions": {
      async POST(request) {
        const text = await request.text();
        // Streaming requests carry `"stream":true` in every client's serialisation used here.
        if (!text.includes('"stream":true')) return new Response(replyBytes, { headers: JSON_HEADERS });
        const body = JSON.parse(text);
        return stream(String(body.bench_nonce ?? "x"), Number(body.bench_chunks ?? 20), Number(body.bench_delay_ms ?? 10));
      },
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});

console.log(`LISTENING ${server.port}`);
