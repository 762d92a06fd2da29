// The soak (issue 4, `make soak`, not part of `make test`): the compiled binary
// (dist/cm-open-webui-proxy, built by `make build`) in front of a mock backend, under a bounded
// load of mixed requests (soak/mix.ts: streamed, non-streamed, aborted mid-stream, backend 500 and
// 429, unknown models, /models, passthrough). RSS (VmRSS from /proc/<pid>/status) and open file
// descriptors (/proc/<pid>/fd) are read at start, after a warm-up and at the end, each time after
// the load process has exited and idle keep-alive connections have closed.
//
// Passes when end RSS ≤ 1.2 × warm-up RSS, the fds are back to the start-up baseline (+ a small
// slack), no answer was unexpected, and the proxy exits 0 on SIGTERM. Prints a summary table and
// writes it to soak/RESULTS.md.
//
// Env knobs: SOAK_REQUESTS (default 200000), SOAK_WARMUP (20000), SOAK_CONCURRENCY (32),
// SOAK_BINARY (dist/cm-open-webui-proxy), SOAK_OUT (soak/RESULTS.md).
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { MIX } from "./mix";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = resolve(ROOT, process.env.SOAK_BINARY ?? "dist/cm-open-webui-proxy");
const OUT = resolve(ROOT, process.env.SOAK_OUT ?? "soak/RESULTS.md");
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 200_000);
const WARMUP = Number(process.env.SOAK_WARMUP ?? 20_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 32);
const SEED = 4_0404;
const RSS_FACTOR = 1.2;
const FD_SLACK = 2;
const SETTLE_LIMIT_MS = 30_000;
const CLIENT_KEY = "ck-soak-client-5b6c7d8e9f00";
const BACKEND_KEY = "sk-soak-backend-1a2b3c4d5e6f";

// ---- every child is killed on any exit ------------------------------------------------------
const children = new Set<Subprocess>();
process.on("exit", () => {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
});

// ---- the mock backend -------------------------------------------------------------------------
const encoder = new TextEncoder();
const backendStats = { requests: 0, slowStreamsCancelled: 0, slowStreamsCompleted: 0 };
const sseChunk = (i: number) => encoder.encode(`data: {"id":"soak","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n`);
const DONE = encoder.encode("data: [DONE]\n\n");
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const backendError = (status: number) =>
  Response.json(
    { error: { message: "soak backend error", type: status === 429 ? "rate_limit_error" : "server_error", param: null, code: null } },
    { status, headers: status === 429 ? { "retry-after": "1" } : {} },
  );

function slowStream(): Response {
  let timer: Timer | undefined;
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        let i = 0;
        const tick = () => {
          if (i === 40) {
            backendStats.slowStreamsCompleted++;
            controller.enqueue(DONE);
            return controller.close();
          }
          controller.enqueue(sseChunk(i++));
          timer = setTimeout(tick, 5);
        };
        tick();
      },
      cancel() {
        clearTimeout(timer);
        backendStats.slowStreamsCancelled++;
      },
    }),
    { headers: SSE_HEADERS },
  );
}

const mock = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 1, // seconds: idle keep-alive connections from the proxy close soon after the load stops
  async fetch(request) {
    backendStats.requests++;
    const url = new URL(request.url);
    const body = (await request.json().catch(() => ({}))) as { model?: string };
    if (url.pathname === "/v1/embeddings")
      return Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: body.model });
    switch (body.model) {
      case "soak-json-actual":
        return Response.json({
          id: "chatcmpl-soak",
          object: "chat.completion",
          created: 1700000000,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
        });
      case "soak-stream-actual":
        return new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < 8; i++) controller.enqueue(sseChunk(i));
              controller.enqueue(DONE);
              controller.close();
            },
          }),
          { headers: SSE_HEADERS },
        );
      case "soak-slow-actual":
        return slowStream();
      case "soak-500-actual":
        return backendError(500);
      case "soak-429-actual":
        return backendError(429);
      default:
        return backendError(500);
    }
  },
});

// ---- the proxy ---------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "cm-owp-soak-"));
const configPath = join(dir, "config.json");
const endpoint = (actualModelName: string) => ({ url: `http://127.0.0.1:${mock.port}`, apiKey: BACKEND_KEY, actualModelName });
writeFileSync(
  configPath,
  JSON.stringify(
    {
      endpoints: {
        "soak-json": endpoint("soak-json-actual"),
        "soak-stream": endpoint("soak-stream-actual"),
        "soak-slow-stream": endpoint("soak-slow-actual"),
        "soak-500": endpoint("soak-500-actual"),
        "soak-429": endpoint("soak-429-actual"),
        "soak-embed": endpoint("soak-embed-actual"),
      },
      clientKeys: [{ key: CLIENT_KEY, name: "soak" }],
      drainTimeoutMs: 10_000,
    },
    null,
    2,
  ),
);

const stderrLines: string[] = [];
const proxy = Bun.spawn([BINARY, "--config", configPath, "--port", "0", "--host", "127.0.0.1"], { stdout: "ignore", stderr: "pipe" });
children.add(proxy);
let announcePort: (port: number) => void;
const portPromise = new Promise<number>((resolve) => (announcePort = resolve));
void (async () => {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of proxy.stderr as ReadableStream<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      if (stderrLines.length < 10_000) stderrLines.push(line);
      const match = / listening on \S+:(\d+) /.exec(line);
      if (match) announcePort(Number(match[1]));
    }
  }
})();

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const port = await bounded(portPromise, 15_000, "the proxy's 'listening' line");
const pid = proxy.pid;

// ---- measurements ------------------------------------------------------------------------------
function rssKb(): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? NaN);
}
const fds = () => readdirSync(`/proc/${pid}/fd`).length;
/** What the open fds are: "socket 3, anon_inode:[eventfd] 2, pipe 2, …". */
function fdKinds(): string {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = "?";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
        .replace(/:\[\d+\]$/, "")
        .replace(/^\/.*/, "file");
    } catch {}
    kinds[target] = (kinds[target] ?? 0) + 1;
  }
  return Object.entries(kinds)
    .sort()
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

/** One request on a connection that closes right after (so it leaves no keep-alive socket). */
async function healthOnce(): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: "close" }, keepalive: false });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Waits (polling /proc every 250 ms, at most SETTLE_LIMIT_MS) until the proxy's fds are down to
 * `target`, or have not changed for 8 s: idle keep-alive connections close on their own timers.
 */
async function settle(target: number): Promise<{ fds: number; waitedMs: number }> {
  const start = performance.now();
  let last = fds();
  let stableSince = performance.now();
  while (performance.now() - start < SETTLE_LIMIT_MS) {
    const now = fds();
    if (now <= target) return { fds: now, waitedMs: Math.round(performance.now() - start) };
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    } else if (performance.now() - stableSince > 8000) break;
    await Bun.sleep(250);
  }
  return { fds: fds(), waitedMs: Math.round(performance.now() - start) };
}

interface LoadSummary {
  total: number;
  seconds: number;
  counts: Record<string, number>;
  unexpected: Record<string, number>;
  samples: string[];
}

async function load(count: number, seed: number, onSample?: () => void): Promise<LoadSummary> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "load.ts"), String(port), CLIENT_KEY, String(count), String(CONCURRENCY), String(seed)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  children.add(child);
  const sampler = onSample ? setInterval(onSample, 1000) : undefined;
  try {
    const code = await bounded(child.exited, 30 * 60_000, "the load process");
    const out = await new Response(child.stdout).text();
    if (code !== 0) throw new Error(`load process exited ${code}: ${out}`);
    return JSON.parse(out.trim().split("\n").at(-1)!) as LoadSummary;
  } finally {
    clearInterval(sampler);
    children.delete(child);
  }
}

// ---- the run ---------------------------------------------------------------------------------------
console.log(`soak: ${BINARY} (pid ${pid}) on 127.0.0.1:${port}; warm-up ${WARMUP}, main ${REQUESTS} requests, ${CONCURRENCY} concurrent`);
if ((await healthOnce()) !== 200) throw new Error("the proxy is not healthy");
// The baseline is the proxy after its first relayed request, idle again: Bun starts its HTTP
// client thread (an eventfd and an epoll fd, kept for the process's life) on the first fetch.
const beforeFirst = fds();
const first = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
  method: "POST",
  keepalive: false,
  headers: { connection: "close", "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` },
  body: JSON.stringify({ model: "soak-json", messages: [{ role: "user", content: "first" }] }),
});
if (first.status !== 200) throw new Error(`the first relayed request answered ${first.status}`);
await first.arrayBuffer();
await settle(beforeFirst + 2);
const start = { rss: rssKb(), fds: fds(), kinds: fdKinds() };
console.log(`start: RSS ${mb(start.rss)}, ${start.fds} fds (${start.kinds})`);

const warm = await load(WARMUP, SEED);
const warmSettle = await settle(start.fds);
const afterWarm = { rss: rssKb(), fds: warmSettle.fds, kinds: fdKinds() };
console.log(
  `after warm-up (${warm.total} requests, ${(warm.total / warm.seconds).toFixed(0)} req/s): RSS ${mb(afterWarm.rss)}, ${afterWarm.fds} fds (${afterWarm.kinds}; settled in ${warmSettle.waitedMs} ms)`,
);

let peakRss = afterWarm.rss;
let peakFds = afterWarm.fds;
const main = await load(REQUESTS, SEED + 1, () => {
  peakRss = Math.max(peakRss, rssKb());
  peakFds = Math.max(peakFds, fds());
});
const endSettle = await settle(start.fds);
const end = { rss: rssKb(), fds: endSettle.fds, kinds: fdKinds() };
console.log(
  `end (${main.total} requests, ${(main.total / main.seconds).toFixed(0)} req/s): RSS ${mb(end.rss)}, ${end.fds} fds (${end.kinds}; settled in ${endSettle.waitedMs} ms)`,
);

proxy.kill("SIGTERM");
const exitCode = await bounded(proxy.exited, 15_000, "the proxy exiting on SIGTERM");
children.delete(proxy);
mock.stop(true);
rmSync(dir, { recursive: true, force: true });

// ---- verdict and report ----------------------------------------------------------------------------
const unexpected = { ...warm.unexpected };
for (const [key, n] of Object.entries(main.unexpected)) unexpected[key] = (unexpected[key] ?? 0) + n;
const unexpectedTotal = Object.values(unexpected).reduce((a, b) => a + b, 0);
const rssLimit = afterWarm.rss * RSS_FACTOR;
const checks = [
  {
    what: `end RSS ≤ ${RSS_FACTOR} × warm-up RSS (${mb(rssLimit)})`,
    ok: end.rss <= rssLimit,
    value: `${mb(end.rss)} (${(end.rss / afterWarm.rss).toFixed(3)} ×)`,
  },
  { what: `end fds ≤ start fds + ${FD_SLACK}`, ok: end.fds <= start.fds + FD_SLACK, value: `${end.fds} vs ${start.fds} at start` },
  { what: "every answer as expected", ok: unexpectedTotal === 0, value: `${unexpectedTotal} unexpected` },
  { what: "exit code on SIGTERM is 0", ok: exitCode === 0, value: String(exitCode) },
];
const passed = checks.every((check) => check.ok);
const binarySize = statSync(BINARY).size;
const errorLines = stderrLines.filter((line) => / (ERROR|WARN) /.test(line) && !line.includes("no clientKeys"));
const total = warm.total + main.total;

const counts: Record<string, number> = {};
for (const summary of [warm, main]) for (const [kind, n] of Object.entries(summary.counts)) counts[kind] = (counts[kind] ?? 0) + n;

const report = `# Soak results

\`make soak\` (soak/run.ts) — ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM.
Binary: \`dist/cm-open-webui-proxy\` (${(binarySize / 2 ** 20).toFixed(1)} MiB), one mock backend in the runner process,
load from a separate process (${CONCURRENCY} concurrent closed-loop clients, keep-alive). RSS is VmRSS from
\`/proc/<pid>/status\`, fds are the entries of \`/proc/<pid>/fd\`, both read after the load process exited and
idle keep-alive connections closed (the mock closes idle connections after 1 s).

**Result: ${passed ? "PASS" : "FAIL"}**

| measure | start | after warm-up | end |
|---|---|---|---|
| requests (cumulative) | 0 | ${warm.total.toLocaleString("en-US")} | ${total.toLocaleString("en-US")} |
| RSS | ${mb(start.rss)} | ${mb(afterWarm.rss)} | ${mb(end.rss)} |
| open fds | ${start.fds} | ${afterWarm.fds} | ${end.fds} |

| check | value | |
|---|---|---|
${checks.map((check) => `| ${check.what} | ${check.value} | ${check.ok ? "ok" : "**FAILED**"} |`).join("\n")}

- Peak during the main run (sampled every second): RSS ${mb(peakRss)}, ${peakFds} fds.
- Throughput: warm-up ${(warm.total / warm.seconds).toFixed(0)} req/s, main run ${(main.total / main.seconds).toFixed(0)} req/s (${main.seconds.toFixed(1)} s).
- Backend: ${backendStats.requests.toLocaleString("en-US")} requests; of the slow streams, ${backendStats.slowStreamsCancelled.toLocaleString("en-US")} were cancelled by the proxy after the client aborted, ${backendStats.slowStreamsCompleted} ran to the end.
- Proxy log: ${stderrLines.length} lines, ${errorLines.length} WARN/ERROR lines${errorLines.length ? ` (first: \`${errorLines[0]!.slice(0, 160)}\`)` : ""}.

| kind | share | sent | what |
|---|---|---|---|
${MIX.map((kind) => `| ${kind.name} | ${kind.weight} % | ${(counts[kind.name] ?? 0).toLocaleString("en-US")} | ${kind.what} |`).join("\n")}
${
  unexpectedTotal
    ? `\nUnexpected answers:\n\n${Object.entries(unexpected)
        .map(([key, n]) => `- ${n} × ${key}`)
        .join("\n")}\n`
    : ""
}`;

writeFileSync(OUT, report);
console.log("\n" + report);
process.exit(passed ? 0 : 1);
