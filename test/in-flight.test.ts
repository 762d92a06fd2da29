// Bun's fetch relays at most 256 backend requests at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is
// set when the process starts. The CLI re-executes itself with it set to the config's
// `maxInFlight` (default 4096), so a proxy started with no environment at all holds 300 streams
// open at the backend at once; `maxInFlight: 64` caps it at 64; an operator's own variable wins.
//
// The backend here holds every stream open after its first chunk until the test releases it, and
// counts what it holds. The client side is raw TCP: this test process's own fetch has the same
// 256 cap and would otherwise be what limits the run.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deferred, within, type Deferred } from "./support/events";
import { rawHttp, rawRequest, type RawResponse } from "./hardening/lib/raw-http";
import { BUN, CLI_ENTRY, REPO_ROOT, cleanEnv, runToExit, spawnCli, spawnProcess, type RunningProcess } from "./support/process";
import { makeTempDir, removeTempDirs, writeConfig } from "./support/proxy";

const encoder = new TextEncoder();

/** The SSE bytes the backend sends for one stream, marked with its nonce so streams cannot mix. */
function streamChunks(nonce: string): string[] {
  const event = (i: number) =>
    `data: ${JSON.stringify({ id: `chatcmpl-${nonce}`, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: `${nonce}:${i}` }, finish_reason: null }] })}\n\n`;
  return [event(0), event(1), event(2), "data: [DONE]\n\n"];
}

/** Sends the first chunk of every stream at once, the rest only when released; counts what it holds. */
class HoldingBackend {
  received = 0;
  open = 0;
  peak = 0;
  private readonly holds: Deferred<void>[] = [];
  private waiters: { count: number; done: Deferred<void> }[] = [];
  private released = false;
  private server: ReturnType<typeof Bun.serve>;

  constructor() {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: (request) => this.handle(request) });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  private async handle(request: Request): Promise<Response> {
    const body = (await request.json()) as { messages: { content: string }[] };
    const nonce = body.messages[0]!.content;
    const hold = deferred();
    if (this.released) hold.resolve();
    this.holds.push(hold);
    this.received++;
    this.open++;
    this.peak = Math.max(this.peak, this.open);
    this.waiters = this.waiters.filter((waiter) => (this.received >= waiter.count ? (waiter.done.resolve(), false) : true));
    const [first, ...rest] = streamChunks(nonce);
    let closed = false;
    const close = () => {
      if (!closed) this.open--;
      closed = true;
    };
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(first));
        await hold.promise;
        for (const chunk of rest) controller.enqueue(encoder.encode(chunk));
        controller.close();
        close();
      },
      cancel: close,
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  }

  /** Resolves once `count` requests have arrived in total. */
  async arrived(count: number, ms: number): Promise<void> {
    if (this.received >= count) return;
    const done = deferred();
    this.waiters.push({ count, done });
    await within(done.promise, ms, `the backend holding ${count} streams`).catch((error: Error) => {
      throw new Error(`${error.message} (it holds ${this.received})`);
    });
  }

  releaseFirst(): void {
    this.holds[0]!.resolve();
  }

  /** Lets every held stream finish, and every later one run straight through. */
  releaseAll(): void {
    this.released = true;
    for (const hold of this.holds) hold.resolve();
  }

  reset(): void {
    this.releaseAll();
    this.holds.length = 0;
    this.released = false;
    this.received = this.open = this.peak = 0;
    this.waiters = [];
  }

  stop(): void {
    this.releaseAll();
    this.server.stop(true);
  }
}

let backend: HoldingBackend;
let dir: string;
let proc: RunningProcess | null = null;

beforeAll(() => {
  backend = new HoldingBackend();
  dir = makeTempDir("in-flight");
});
afterEach(async () => {
  backend.releaseAll();
  await proc?.stop(10_000).catch(() => {});
  proc = null;
  backend.reset();
});
afterAll(() => {
  backend.stop();
  removeTempDirs();
});

function configFile(name: string, extra: Record<string, unknown> = {}): string {
  return writeConfig(join(dir, name), {
    endpoints: { held: { url: backend.url, apiKey: "", actualModelName: "held-actual" } },
    ...extra,
  });
}

/** One streamed chat completion over its own raw connection; resolves when the proxy closes it. */
function openStream(port: number, nonce: string): Promise<RawResponse> {
  const body = JSON.stringify({ model: "held", stream: true, messages: [{ role: "user", content: nonce }] });
  return rawRequest(port, rawHttp("POST", "/v1/chat/completions", { "content-type": "application/json" }, body), 60_000, `stream ${nonce}`);
}

async function expectByteExact(streams: Promise<RawResponse>[], nonces: string[]) {
  const answers = await within(Promise.all(streams), 60_000, "every stream completing");
  const wrong = answers
    .map((answer, i) => ({ nonce: nonces[i]!, status: answer.status, exact: answer.text() === streamChunks(nonces[i]!).join("") }))
    .filter((outcome) => outcome.status !== 200 || !outcome.exact);
  expect(wrong).toEqual([]);
}

/** Whether processes' environments can be read here (Linux's /proc): where they can, a failed read fails the test. */
const HAS_PROC_ENVIRON = existsSync("/proc/self/environ");

/** The variable the serving process runs with (Linux: its environment after the re-exec); undefined without /proc. */
function environOf(pid: number): string | undefined {
  if (!HAS_PROC_ENVIRON) return undefined;
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  return entries.find((entry) => entry.startsWith("BUN_CONFIG_MAX_HTTP_REQUESTS="))?.split("=")[1] ?? "";
}

/** Opens `total` streams, checks that exactly `cap` reach the backend, then the rest once one finishes. */
async function expectCap(port: number, cap: number, label: string) {
  const total = cap + 1;
  const nonces = Array.from({ length: total }, (_, i) => `${label}-${i}`);
  const streams = nonces.map((nonce) => openStream(port, nonce));
  await backend.arrived(cap, 20_000);
  // Every request was written; give the proxy time to pass the one over the cap through, if it would.
  await Bun.sleep(300);
  expect(backend.received).toBe(cap);
  backend.releaseFirst(); // one finishes, so the queued one goes out
  await backend.arrived(total, 10_000);
  backend.releaseAll();
  await expectByteExact(streams, nonces);
  expect(backend.peak).toBe(cap);
}

describe("maxInFlight: the CLI raises Bun's fetch limit by itself", () => {
  test("with no environment at all, 300 streams are open at the backend at once, and all complete byte-exact", async () => {
    proc = spawnCli(["--config", configFile("default.json"), "--port", "0", "--host", "127.0.0.1"]);
    const port = await proc.ready();
    // Re-executed in place: the process the test spawned is the one serving, with the default limit.
    const value = environOf(proc.pid);
    if (value !== undefined) expect(value).toBe("4096");

    const nonces = Array.from({ length: 300 }, (_, i) => `default-${i}`);
    const streams = nonces.map((nonce) => openStream(port, nonce));
    await backend.arrived(300, 30_000); // with Bun's default of 256 the 257th would wait
    expect(backend.open).toBe(300);
    backend.releaseAll();
    await expectByteExact(streams, nonces);
    expect(backend.peak).toBe(300);
    // The start-up lines were printed once (nothing is written before the re-exec), with the limit.
    expect(proc.stderr.match(/ listening on /g)?.length).toBe(1);
    expect(proc.stderr).toContain("up to 4096 backend requests in flight");
  }, 90_000);

  test("maxInFlight: 64 holds the 65th stream back until one finishes", async () => {
    proc = spawnCli(["--config", configFile("capped.json", { maxInFlight: 64 }), "--port", "0", "--host", "127.0.0.1"]);
    const port = await proc.ready();
    const value = environOf(proc.pid);
    if (value !== undefined) expect(value).toBe("64");
    expect(proc.stderr).toContain("up to 64 backend requests in flight");
    await expectCap(port, 64, "capped");
  }, 60_000);

  test("an operator's BUN_CONFIG_MAX_HTTP_REQUESTS wins over the config (no re-exec)", async () => {
    proc = spawnCli(["--config", configFile("operator.json", { maxInFlight: 4096 }), "--port", "0", "--host", "127.0.0.1"], {
      BUN_CONFIG_MAX_HTTP_REQUESTS: "32",
    });
    const port = await proc.ready();
    const value = environOf(proc.pid);
    if (value !== undefined) expect(value).toBe("32");
    expect(proc.stderr).toContain("up to 32 backend requests in flight");
    await expectCap(port, 32, "operator");
  }, 60_000);

  test("maxInFlight must be an integer from 1 to 65535", async () => {
    for (const bad of [0, 65536, 1.5, "4096"]) {
      const { code, stderr } = await runToExit([BUN, CLI_ENTRY, "--config", configFile("bad.json", { maxInFlight: bad })], { cwd: dir, env: cleanEnv() });
      expect(code).toBe(1);
      expect(stderr).toContain("maxInFlight");
    }
  });
});

describe("maxInFlight in the compiled binary", () => {
  let binary: string;
  let build: { code: number; stderr: string };

  beforeAll(async () => {
    binary = join(makeTempDir("in-flight-binary"), "cm-open-webui-proxy");
    build = await runToExit([BUN, "build", CLI_ENTRY, "--compile", "--outfile", binary], { cwd: REPO_ROOT, env: cleanEnv() }, 120_000);
  }, 130_000);

  test("re-executes itself in place (same PID, execPath is the binary) and holds 300 streams at once", async () => {
    expect({ code: build.code, stderr: build.code === 0 ? "" : build.stderr }).toEqual({ code: 0, stderr: "" });
    proc = spawnProcess([binary, "--config", configFile("binary.json", { maxInFlight: 512 }), "--port", "0", "--host", "127.0.0.1"], {
      cwd: dir,
      env: cleanEnv(),
    });
    const port = await proc.ready();
    const value = environOf(proc.pid);
    if (value !== undefined) expect(value).toBe("512");

    const nonces = Array.from({ length: 300 }, (_, i) => `binary-${i}`);
    const streams = nonces.map((nonce) => openStream(port, nonce));
    await backend.arrived(300, 30_000);
    backend.releaseAll();
    await expectByteExact(streams, nonces);
    expect(backend.peak).toBe(300);
  }, 90_000);
});
