// A reference, not one of the three targets the bars judge: the required floor in Elysia
// (bench/required-elysia.ts) plus what the proxy's default config turns on for every request, each
// done the cheapest way: a request id on the answer; the usage read from the answer's last `usage`
// object (the proxy's own reader); one JSON access line, batched onto stdout; one usage row, batched
// into SQLite (multi-row inserts in one transaction every 100 ms); a request counter and a duration
// histogram. No config, no limits, no routing. What it costs over required-elysia is the price of
// those features alone; when it misses the CPU bar, no Elysia proxy with the default config can meet it.
// Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/required-gateway.ts [port]
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { Elysia } from "elysia";
import { usageOfBody } from "../src/providers/openai/usage";
import { FLOOR_MODELS } from "./floor-work";
import { forwardChatRequired } from "./required-work";
import { CLIENT_MODEL } from "./shared";

const FLUSH_MS = 100;
const COLUMNS = ["ts", "request_id", "model", "served_model", "target", "status", "outcome", "prompt_tokens", "completion_tokens", "duration_ms", "ttfb_ms"];
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const path = `${process.env.TMPDIR ?? "/tmp"}/required-gateway-${process.pid}.db`;
const db = new Database(path);
process.on("exit", () => rmSync(path, { force: true }));
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
db.exec(`CREATE TABLE usage (${COLUMNS.join(", ")})`);
const ROW = `(${COLUMNS.map(() => "?").join(", ")})`;
const ROWS_PER_INSERT = 50;
const insertOne = db.prepare(`INSERT INTO usage VALUES ${ROW}`);
const insertMany = db.prepare(`INSERT INTO usage VALUES ${Array(ROWS_PER_INSERT).fill(ROW).join(", ")}`);

let rows: (string | number | null)[][] = [];
let lines: string[] = [];
const requests = new Map<string, number>();
const durationCounts = new Array<number>(BUCKETS.length + 1).fill(0);
let durationSum = 0;

setInterval(() => {
  if (lines.length > 0) {
    process.stdout.write(lines.join(""));
    lines = [];
  }
  if (rows.length === 0) return;
  const batch = rows;
  rows = [];
  db.transaction(() => {
    let i = 0;
    for (; i + ROWS_PER_INSERT <= batch.length; i += ROWS_PER_INSERT) insertMany.run(...batch.slice(i, i + ROWS_PER_INSERT).flat());
    for (; i < batch.length; i++) insertOne.run(...batch[i]!);
  })();
}, FLUSH_MS);

/** One access line, one usage row and the metrics of an ended request. */
function observe(id: string, status: number, bytesOut: number, ms: number, usage: { promptTokens: number; completionTokens: number } | null): void {
  const outcome = status < 400 ? "ok" : "upstream_error";
  lines.push(
    `{"time":"${new Date().toISOString()}","level":"info","msg":"POST /v1/chat/completions ${status}","requestId":"${id}","model":"${CLIENT_MODEL}",` +
      `"status":${status},"bytesOut":${bytesOut},"durationMs":${Math.round(ms * 10) / 10},"promptTokens":${usage?.promptTokens ?? null},` +
      `"completionTokens":${usage?.completionTokens ?? null},"outcome":"${outcome}"}\n`,
  );
  rows.push([Date.now(), id, CLIENT_MODEL, CLIENT_MODEL, "default", status, outcome, usage?.promptTokens ?? null, usage?.completionTokens ?? null, ms, ms]);
  const key = `${CLIENT_MODEL}\u0000${status}`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
  const seconds = ms / 1000;
  let bucket = 0;
  while (bucket < BUCKETS.length && seconds > BUCKETS[bucket]!) bucket++;
  durationCounts[bucket]!++;
  durationSum += seconds;
}

async function chat(request: Request): Promise<Response> {
  const started = performance.now();
  const id = Bun.randomUUIDv7();
  const upstream = await forwardChatRequired(request);
  const headers = new Headers(upstream.headers);
  headers.set("x-request-id", id);
  if (headers.get("content-type")?.startsWith("text/event-stream")) {
    // A stream is observed when its headers are relayed: less than the proxy does (at its end, with its usage).
    observe(id, upstream.status, 0, performance.now() - started, null);
    return new Response(upstream.body, { status: upstream.status, headers });
  }
  const bytes = await upstream.arrayBuffer();
  observe(id, upstream.status, bytes.byteLength, performance.now() - started, usageOfBody(bytes));
  return new Response(bytes, { status: upstream.status, headers });
}

const app = new Elysia()
  .get("/health", () => new Response("ok"))
  .get("/v1/models", () => new Response(FLOOR_MODELS, { headers: { "content-type": "application/json" } }))
  .post("/v1/chat/completions", ({ request }) => chat(request))
  .listen({ hostname: "127.0.0.1", port: Number(process.argv[2] ?? 0), idleTimeout: 0 });

console.log(`LISTENING ${app.server!.port}`);
