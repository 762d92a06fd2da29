// The soak's load generator, run as its own process by soak/run.ts so that when it exits every
// client connection it held closes with it. Sends `count` mixed requests with `concurrency`
// closed-loop workers, checks each answer, and prints one JSON summary line on stdout.
//
//   bun soak/load.ts <port> <clientKey> <count> <concurrency> <seed>
import { MIX, type MixKind } from "./mix";

const [portText, clientKey, countText, concurrencyText, seedText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const base = `http://127.0.0.1:${port}`;

// mulberry32: the same sequence of request kinds on every run
let state = Number(seedText) >>> 0;
function random(): number {
  let t = (state = (state + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const totalWeight = MIX.reduce((sum, kind) => sum + kind.weight, 0);
function pick(): MixKind {
  let roll = random() * totalWeight;
  for (const kind of MIX) if ((roll -= kind.weight) < 0) return kind;
  return MIX[MIX.length - 1]!;
}

const headers = { "content-type": "application/json", authorization: `Bearer ${clientKey}` };
const chat = (model: string, stream: boolean) => JSON.stringify({ model, stream, messages: [{ role: "user", content: "soak" }] });

const counts: Record<string, number> = {};
const unexpected: Record<string, number> = {};
const samples: string[] = [];
let sent = 0;

function note(kind: string, problem: string | null) {
  counts[kind] = (counts[kind] ?? 0) + 1;
  if (problem === null) return;
  const key = `${kind}: ${problem}`;
  unexpected[key] = (unexpected[key] ?? 0) + 1;
  if (samples.length < 20) samples.push(key);
}

async function once(kind: MixKind): Promise<string | null> {
  const signal = AbortSignal.timeout(30_000);
  switch (kind.name) {
    case "chat": {
      const response = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers, body: chat("soak-json", false), signal });
      const body = await response.text();
      return response.status === 200 && body.includes('"soak-json-actual"') ? null : `status ${response.status}`;
    }
    case "stream": {
      const response = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers, body: chat("soak-stream", true), signal });
      const body = await response.text();
      return response.status === 200 && body.endsWith("data: [DONE]\n\n") && !body.includes('"error"') ? null : `status ${response.status}, ${body.slice(-60)}`;
    }
    case "aborted-stream": {
      const abort = new AbortController();
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: chat("soak-slow-stream", true),
        signal: AbortSignal.any([abort.signal, signal]),
      });
      if (response.status !== 200) return `status ${response.status}`;
      const reader = response.body!.getReader();
      const first = await reader.read();
      abort.abort();
      await reader.cancel().catch(() => {});
      return first.done ? "no first chunk" : null;
    }
    case "backend-500":
    case "backend-429": {
      const status = kind.name === "backend-500" ? 500 : 429;
      const response = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers, body: chat(`soak-${status}`, random() < 0.5), signal });
      const body = await response.text();
      return response.status === status && body.includes("soak backend error") ? null : `status ${response.status}`;
    }
    case "unknown-model": {
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: chat(`no-such-model-${Math.floor(random() * 1000)}`, false),
        signal,
      });
      const body = await response.text();
      return response.status === 404 && body.includes("model_not_found") ? null : `status ${response.status}`;
    }
    case "models": {
      const response = await fetch(`${base}/v1/models`, { headers, signal });
      const body = await response.text();
      return response.status === 200 && body.includes('"soak-json"') ? null : `status ${response.status}`;
    }
    case "embeddings": {
      const response = await fetch(`${base}/v1/embeddings`, { method: "POST", headers, body: JSON.stringify({ model: "soak-embed", input: "soak" }), signal });
      const body = await response.text();
      return response.status === 200 && body.includes('"embedding"') ? null : `status ${response.status}`;
    }
  }
}

async function worker() {
  while (sent < count) {
    sent++;
    const kind = pick();
    try {
      note(kind.name, await once(kind));
    } catch (error) {
      note(kind.name, `threw ${(error as Error).name}: ${(error as Error).message.slice(0, 80)}`);
    }
  }
}

const startedAt = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - startedAt) / 1000;
const total = Object.values(counts).reduce((a, b) => a + b, 0);
process.stdout.write(JSON.stringify({ total, seconds, counts, unexpected, samples }) + "\n");
process.exit(0);
