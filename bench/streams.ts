// Opens N concurrent streamed chat completions and checks each one byte for byte.
// Usage: BUN_CONFIG_MAX_HTTP_REQUESTS=2048 bun bench/streams.ts <baseUrl> [streams=500] [chunks=20] [delayMs=10] [timeoutMs] [translated]
// With `translated` (a proxy translating from Anthropic's format, whose bytes differ from the mock's),
// "exact" means complete instead: every text delta once and in order, then `data: [DONE]`.
// Prints `BENCH_JSON {...}`: time to first body byte and per-stream duration (p50/p99, ms), the
// wall time for all of them, and how many received exactly the bytes the mock sent.
// Bun's fetch allows 256 requests in flight unless BUN_CONFIG_MAX_HTTP_REQUESTS says more; the
// runner raises it for this client so the client itself never queues.
import { expectedStream, streamRequestBody, translatedStreamComplete } from "./shared";

const [base, streamsArg, chunksArg, delayArg, timeoutArg, modeArg] = process.argv.slice(2);
if (!base) throw new Error("usage: streams.ts <baseUrl> [streams] [chunks] [delayMs] [timeoutMs]");
const streams = Number(streamsArg ?? 500);
const chunks = Number(chunksArg ?? 20);
const delayMs = Number(delayArg ?? 10);
const timeoutMs = Number(timeoutArg ?? 30_000);
const translated = modeArg === "translated";
const url = `${base}/v1/chat/completions`;
const decoder = new TextDecoder();
const run = Math.random().toString(36).slice(2, 8);

interface Outcome {
  status: number;
  firstByteMs: number;
  totalMs: number;
  exact: boolean;
  error?: string;
}

async function one(i: number, signal: AbortSignal): Promise<Outcome> {
  const nonce = `${run}-${i}`;
  const body = streamRequestBody(nonce, chunks, delayMs);
  const start = performance.now();
  let firstByteMs = NaN;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-client-bench", accept: "text/event-stream" },
      body,
      signal,
    });
    let text = "";
    for await (const chunk of response.body!) {
      if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - start;
      text += decoder.decode(chunk, { stream: true });
    }
    text += decoder.decode();
    const totalMs = performance.now() - start;
    return {
      status: response.status,
      firstByteMs,
      totalMs,
      exact: response.status === 200 && (translated ? translatedStreamComplete(text, chunks) : text === expectedStream(nonce, chunks)),
    };
  } catch (error) {
    return { status: 0, firstByteMs, totalMs: performance.now() - start, exact: false, error: String((error as Error)?.message ?? error) };
  }
}

function percentile(values: number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const abort = AbortSignal.timeout(timeoutMs);
const wallStart = performance.now();
const outcomes = await Promise.all(Array.from({ length: streams }, (_, i) => one(i, abort)));
const wallMs = performance.now() - wallStart;
const firstBytes = outcomes.map((o) => o.firstByteMs);
const totals = outcomes.map((o) => o.totalMs);
const errors = [...new Set(outcomes.filter((o) => o.error).map((o) => o.error))].slice(0, 3);
const statuses: Record<string, number> = {};
for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
console.log(
  `BENCH_JSON ${JSON.stringify({
    streams,
    chunks,
    delayMs,
    exact: outcomes.filter((o) => o.exact).length,
    statuses,
    errors,
    firstByteP50: percentile(firstBytes, 50),
    firstByteP99: percentile(firstBytes, 99),
    firstByteMax: percentile(firstBytes, 100),
    totalP50: percentile(totals, 50),
    totalP99: percentile(totals, 99),
    wallMs,
  })}`,
);
