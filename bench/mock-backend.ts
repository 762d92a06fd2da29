// A fast mock OpenAI backend for the benchmark. Usage: bun bench/mock-backend.ts [port]
// Prints `LISTENING <port>` once ready. Records nothing on the hot path.
//
//   GET  /v1/models             static list
//   POST /v1/chat/completions   ~600-byte chat.completion, or with "stream": true an SSE stream of
//                               `bench_chunks` events (default 20) `bench_delay_ms` apart (default 10),
//                               the first sent at once, then `data: [DONE]`.
//   POST /v1/messages           Anthropic's format (the proxy's `provider: "anthropic"` translation):
//                               a ~600-byte `message`, or with "stream": true message_start,
//                               content_block_start, `bench_chunks` text deltas `bench_delay_ms` apart
//                               (the same knobs and defaults; a translating proxy drops unknown fields,
//                               so its streams get the defaults), content_block_stop, message_delta,
//                               message_stop. Every byte precomputed.
import { ANTHROPIC_REPLY, ANTHROPIC_SSE_HEAD, CHAT_REPLY, MODELS_REPLY, SSE_DONE, anthropicDelta, anthropicTail, sseChunk } from "./shared";

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const encoder = new TextEncoder();
const replyBytes = encoder.encode(CHAT_REPLY);
const anthropicReplyBytes = encoder.encode(ANTHROPIC_REPLY);
const anthropicHead = encoder.encode(ANTHROPIC_SSE_HEAD);
const DEFAULT_CHUNKS = 20;
const DEFAULT_DELAY_MS = 10;
/** Deltas and tails by index/count, encoded on first use and kept. */
const anthropicDeltas: Uint8Array[] = [];
const anthropicTails: Uint8Array[] = [];
const deltaBytes = (i: number) => (anthropicDeltas[i] ??= encoder.encode(anthropicDelta(i)));
const tailBytes = (chunks: number) => (anthropicTails[chunks] ??= encoder.encode(anthropicTail(chunks)));

function anthropicStream(chunks: number, delayMs: number): Response {
  const body = new ReadableStream({
    type: "direct",
    async pull(controller) {
      controller.write(anthropicHead);
      for (let i = 0; i < chunks; i++) {
        if (i > 0) await Bun.sleep(delayMs);
        controller.write(deltaBytes(i));
        await controller.flush();
      }
      controller.write(tailBytes(chunks));
      await controller.flush();
      controller.close();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

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
    "/v1/messages": {
      async POST(request) {
        const text = await request.text();
        if (!text.includes('"stream":true')) return new Response(anthropicReplyBytes, { headers: JSON_HEADERS });
        if (!text.includes("bench_")) return anthropicStream(DEFAULT_CHUNKS, DEFAULT_DELAY_MS);
        const body = JSON.parse(text);
        return anthropicStream(Number(body.bench_chunks ?? DEFAULT_CHUNKS), Number(body.bench_delay_ms ?? DEFAULT_DELAY_MS));
      },
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});

console.log(`LISTENING ${server.port}`);
