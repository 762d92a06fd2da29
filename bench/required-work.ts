// The floor's work (bench/floor-work.ts) plus only what the core issue requires of every forwarded
// request, each done the cheapest way measured in Bun (bench/FINDINGS.md):
//   - the client's headers are forwarded, minus hop-by-hop, Authorization, Host, Cookie and
//     X-OpenWebUI-User-* (one native `toJSON()` copy, filtered);
//   - a client that disconnects aborts the backend request (listener on `request.signal`);
//   - the backend request is abortable by a first-byte timer (AbortController + one setTimeout);
//   - redirects are not followed and bodies are not decoded;
//   - a small declared-length body is read whole under an idle timer, an SSE stream is relayed
//     through a direct stream that re-arms an idle timer per chunk.
// No config, no validation, no error shapes. Shared by bench/required-floor.ts (bare Bun.serve) and
// bench/required-elysia.ts (one Elysia route), the two references the proof of a missed bar rests on.
import { BACKEND_KEY, BACKEND_MODEL } from "./shared";

const backend = `${process.env.FLOOR_BACKEND ?? "http://127.0.0.1:8000"}/v1/chat/completions`;
const authorization = `Bearer ${BACKEND_KEY}`;
const FIRST_BYTE_MS = 600_000;
const IDLE_MS = 300_000;
const NOT_FORWARDED = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "authorization",
  "cookie",
  "host",
  "content-length",
]);

function forwardedHeaders(incoming: Headers): Record<string, string> {
  const source = incoming.toJSON();
  const outgoing: Record<string, string> = {};
  for (const name in source) {
    if (!NOT_FORWARDED.has(name) && !name.startsWith("x-openwebui-")) outgoing[name] = source[name]!;
  }
  outgoing.authorization = authorization;
  outgoing["accept-encoding"] ??= "identity";
  return outgoing;
}

function relay(body: ReadableStream<Uint8Array>, abort: AbortController): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const timer = setTimeout(() => abort.abort(), IDLE_MS);
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller) {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        timer.refresh();
        controller.write(chunk.value);
        await controller.flush();
      }
      clearTimeout(timer);
      controller.close();
    },
    cancel: (reason) => {
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  });
}

/** Forwards one chat request with the behaviour every proxy must keep. */
export async function forwardChatRequired(request: Request): Promise<Response> {
  const body = (await request.json()) as { model: string };
  body.model = BACKEND_MODEL;
  const abort = new AbortController();
  request.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const firstByte = setTimeout(() => abort.abort(), FIRST_BYTE_MS);
  const upstream = await fetch(backend, {
    method: "POST",
    headers: forwardedHeaders(request.headers),
    body: JSON.stringify(body),
    signal: abort.signal,
    redirect: "manual",
    decompress: false,
    timeout: false,
  });
  clearTimeout(firstByte);
  const init = { status: upstream.status, headers: { "content-type": upstream.headers.get("content-type") ?? "application/json" } };
  if (upstream.headers.has("content-length")) {
    const idle = setTimeout(() => abort.abort(), IDLE_MS);
    const bytes = await upstream.arrayBuffer();
    clearTimeout(idle);
    return new Response(bytes, init);
  }
  return new Response(relay(upstream.body!, abort), init);
}
