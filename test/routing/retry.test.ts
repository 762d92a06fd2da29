// Retries (issue 9, "Behaviour"): Retry-After and retry-after-ms honoured on a lone target, the
// 60 s cap, a rate-limited target left for another at once, the attempts bound, no retry of a
// non-retryable status nor after the first byte, multipart bodies replayed only when small, and
// the x-cm-proxy-* headers on every kind of answer; a connection reset, closed or refused before
// the answer tried again at once on a fresh one. Receive times are taken by the mocks.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { within } from "../support/events";
import { chatBody, expectOpenAIError, postJson, readBody, readFirstChunk } from "../support/http";
import { defaultCompletion, reply, startMock, type MockBackend, type RecordedRequest, type Reply } from "../support/mock-backend";
import { closedPort, CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { startRawBackend, type RawBackend } from "../support/raw-backend";
import { RestartableBackend, routing, sseChunk } from "./lib-a";

let proxy: ProxyHandle;
let a: MockBackend, b: MockBackend;
/** A backend the test can crash (close with its open connections) and bring back on its port. */
let breaking: RestartableBackend;
/** Answer one request per connection, then reset (or close) the connection when the next arrives on it. */
let oneShot: RawBackend, oneShotFin: RawBackend;
/** As oneShot, but holds its first answers until three requests wait: three connections to pool. */
let pooled: RawBackend;
const ONE_SHOT_BODY = JSON.stringify(defaultCompletion("one-shot", "m"));
const ONE_SHOT_ANSWER = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(ONE_SHOT_BODY)}\r\nconnection: keep-alive\r\n\r\n${ONE_SHOT_BODY}`;
const POOLED = 3;

const pair = (extra: Record<string, unknown> = {}) => ({
  targets: [
    { name: "a", url: a.url },
    { name: "b", url: b.url },
  ],
  ...extra,
});
const lone = (extra: Record<string, unknown> = {}) => ({ url: a.url, ...extra });

beforeAll(async () => {
  [a, b] = [startMock("a"), startMock("b")];
  breaking = new RestartableBackend("breaking", () => new Response("unscripted", { status: 599 })).start();
  oneShot = startRawBackend(ONE_SHOT_ANSWER, { dropReused: "reset" });
  oneShotFin = startRawBackend(ONE_SHOT_ANSWER, { dropReused: "close" });
  pooled = startRawBackend(ONE_SHOT_ANSWER, { dropReused: "reset", gather: POOLED });
  const fastRetry = { attempts: 2, backoffMs: 1 };
  proxy = await startProxy({
    endpoints: {
      "lone-after": lone({ retry: fastRetry }),
      "lone-capped-429": lone({ retry: fastRetry }),
      "lone-capped-503": lone({ retry: fastRetry }),
      "one-shot": { url: oneShot.url, retry: { attempts: 1 } },
      "one-shot-fin": { url: oneShotFin.url, retry: { attempts: 1 } },
      pooled: { url: pooled.url, retry: { attempts: 1 } },
      refused: { url: `http://127.0.0.1:${closedPort()}`, retry: { attempts: 1 } },
      "pair-limited-429": pair({ retry: { attempts: 2, backoffMs: 10 } }),
      "pair-limited-503": pair({ retry: { attempts: 2, backoffMs: 10 } }),
      "pair-500": pair({ retry: { attempts: 3, backoffMs: 1 }, cooldown: { failures: 10, seconds: 0.2 } }),
      "pair-400": pair({ retry: { attempts: 3, backoffMs: 1 } }),
      down: {
        targets: [
          { name: "gone-1", url: `http://127.0.0.1:${closedPort()}` },
          { name: "gone-2", url: `http://127.0.0.1:${closedPort()}` },
        ],
        retry: fastRetry,
      },
      silent: pair({ retry: fastRetry, timeouts: { firstByteMs: 150 } }),
      "stream-stall": pair({ retry: { attempts: 3, backoffMs: 1 }, timeouts: { idleMs: 200 } }),
      "stream-break": {
        targets: [
          { name: "breaking", url: breaking.url },
          { name: "b", url: b.url },
        ],
        retry: { attempts: 3, backoffMs: 1 },
      },
      "upload-small": pair({ retry: fastRetry }),
      "upload-large": pair({ retry: fastRetry }),
      "upload-chunked": pair({ retry: fastRetry }),
      // One model over two wire formats: Anthropic's has no embeddings.
      mixed: {
        targets: [
          { name: "claude", provider: "anthropic", url: `http://127.0.0.1:${closedPort()}`, apiKey: "sk-ant-test" },
          { name: "b", url: b.url },
        ],
        retry: { attempts: 1 },
      },
    },
    maxBodyBytes: 16 * 1024 * 1024,
  });
});
beforeEach(() => {
  a.reset();
  b.reset();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([a.stop(), b.stop(), breaking.stop()]);
  for (const raw of [oneShot, oneShotFin, pooled]) raw.stop();
  removeTempDirs();
});

const chat = (model: string) => postJson(proxy.url("/v1/chat/completions"), chatBody(model));

/** Scripts `mock` with one reply per request in turn (the last one repeats), noting when each arrived. */
function scripted(mock: MockBackend, ...replies: ((request: RecordedRequest) => Reply)[]) {
  const times: number[] = [];
  mock.willReply((request) => {
    times.push(performance.now());
    return replies[Math.min(times.length, replies.length) - 1]!(request);
  });
  return times;
}

const ok = (name: string) => (request: RecordedRequest) => reply.json(defaultCompletion(name, request.json().model));
const refused = (status: number, headers: Record<string, string>) => () =>
  reply.raw(`{"error":{"message":"slow down","type":"rate_limit_error"}}`, { status, headers: { "content-type": "application/json", ...headers } });

/** An HTTP date `seconds` ahead, rounded up to the next whole second (the format has no finer unit). */
const httpDateIn = (seconds: number) => new Date(Math.ceil(Date.now() / 1000) * 1000 + seconds * 1000).toUTCString();

describe("Retry-After on a lone target", () => {
  // RFC 9110 defines Retry-After for 503 as much as for 429: both are honoured, in all three forms.
  const forms = [
    { form: "Retry-After: 1", headers: () => ({ "retry-after": "1" }), atLeast: 995, below: 3000 },
    { form: "Retry-After: <an HTTP date 2 s ahead>", headers: () => ({ "retry-after": httpDateIn(2) }), atLeast: 995, below: 3500 },
    { form: "retry-after-ms: 300", headers: () => ({ "retry-after-ms": "300" }), atLeast: 295, below: 1000 },
  ];
  for (const status of [429, 503]) {
    for (const { form, headers, atLeast, below } of forms) {
      test(`${status} with ${form} → the retry waits that long, then is served`, async () => {
        const times = scripted(a, refused(status, headers()), ok("a"));
        const response = await within(chat("lone-after"), 5000, "the retried request");
        expect(response.status).toBe(200);
        expect((await response.json()).choices[0].message.content).toBe("hello from a");
        expect(times.length).toBe(2);
        expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(atLeast); // timer granularity
        expect(times[1]! - times[0]!).toBeLessThan(below);
        expect(routing(response)).toEqual({ model: "lone-after", servedBy: "lone-after/lone-after#0", attempts: "2" });
      });
    }
  }

  for (const status of [429, 503]) {
    test(`Retry-After over 60 s → the ${status} is relayed at once, unchanged, and not retried`, async () => {
      const body = `{"error":{"message":"slow down","type":"rate_limit_error"}}`;
      scripted(a, refused(status, { "retry-after": "61", "x-ratelimit-remaining-requests": "0" }), ok("a"));
      const started = performance.now();
      const response = await within(chat(`lone-capped-${status}`), 5000, `the relayed ${status}`);
      expect(response.status).toBe(status);
      expect(await response.text()).toBe(body);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(response.headers.get("retry-after")).toBe("61");
      expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(a.requests.length).toBe(1);
      expect(routing(response)).toEqual({ model: `lone-capped-${status}`, servedBy: `lone-capped-${status}/lone-capped-${status}#0`, attempts: "1" });
    });
  }
});

describe("retries across targets", () => {
  for (const status of [429, 503]) {
    test(`a ${status} with Retry-After: 30 on one target → the request moves on at once, and that target rests`, async () => {
      const model = `pair-limited-${status}`;
      const timesA = scripted(a, refused(status, { "retry-after": "30" }));
      const timesB = scripted(b, ok("b"));
      const response = await within(chat(model), 3000, "the request moved to b");
      expect(response.status).toBe(200);
      expect((await response.json()).choices[0].message.content).toBe("hello from b");
      expect(routing(response)).toEqual({ model, servedBy: `${model}/b`, attempts: "2" });
      expect(timesA.length).toBe(1);
      expect(timesB[0]! - timesA[0]!).toBeLessThan(500); // the backoff (≤ 10 ms), not the 30 s
      for (let i = 0; i < 6; i++) {
        const next = await chat(model);
        expect(next.status).toBe(200);
        await next.arrayBuffer();
        expect(routing(next)).toEqual({ model, servedBy: `${model}/b`, attempts: "1" });
      }
      expect(a.requests.length).toBe(1);
      expect(b.requests.length).toBe(7);
    });
  }

  test("attempts: 3 against targets that always answer 500 → exactly 3 backend requests, the last 500 relayed unchanged", async () => {
    let count = 0;
    const failing = (mock: MockBackend) =>
      mock.willReply(() => {
        count++;
        return reply.raw(`{"error":{"message":"failure ${count} at ${mock.name}"}}`, {
          status: 500,
          headers: { "content-type": "application/json", "x-failure": String(count) },
        });
      });
    failing(a);
    failing(b);
    const response = await within(chat("pair-500"), 3000, "the relayed 500");
    expect(response.status).toBe(500);
    expect(a.requests.length + b.requests.length).toBe(3);
    const last = a.requests.length === 2 ? "a" : "b"; // round-robin: a, b, then a again
    expect(await response.text()).toBe(`{"error":{"message":"failure 3 at ${last}"}}`);
    expect(response.headers.get("x-failure")).toBe("3");
    expect(routing(response)).toEqual({ model: "pair-500", servedBy: `pair-500/${last}`, attempts: "3" });
  });

  test("a non-retryable 400 is relayed as it is, never retried", async () => {
    a.willReply(reply.raw(`{"error":{"message":"bad messages"}}`, { status: 400, headers: { "content-type": "application/json" } }));
    b.willReply(reply.raw(`{"error":{"message":"bad messages"}}`, { status: 400, headers: { "content-type": "application/json" } }));
    const response = await chat("pair-400");
    expect(response.status).toBe(400);
    expect(await response.text()).toBe(`{"error":{"message":"bad messages"}}`);
    expect(a.requests.length + b.requests.length).toBe(1);
    const served = routing(response);
    expect(served.model).toBe("pair-400");
    expect(["pair-400/a", "pair-400/b"]).toContain(served.servedBy!);
    expect(served.attempts).toBe("1");
  });
});

describe("a model whose targets speak different wire formats", () => {
  test("a call one target's format cannot express goes to a target that can, without using up a try", async () => {
    for (let i = 0; i < 2; i++) {
      const response = await postJson(proxy.url("/v1/embeddings"), { model: "mixed", input: "hi" });
      expect({ status: response.status, servedBy: response.headers.get("x-cm-proxy-served-by") }).toEqual({ status: 200, servedBy: "mixed/b" });
      await response.arrayBuffer();
    }
    expect(b.requests.map((request) => request.pathname)).toEqual(["/v1/embeddings", "/v1/embeddings"]);
  });
});

describe("the proxy's own errors after every attempt carry the routing headers", () => {
  test("502 when no target can be reached", async () => {
    const response = await within(chat("down"), 3000, "the 502");
    await expectOpenAIError(response, 502, { type: "upstream_error", code: "backend_unreachable" });
    const served = routing(response);
    expect(served.model).toBe("down");
    expect(served.servedBy).toStartWith("down/gone-");
    // Each refused connect is tried once more at once, on a fresh connection.
    expect(served.attempts).toBe("4");
  });

  test("504 when no target answers in time", async () => {
    a.willReply(reply.hang());
    b.willReply(reply.hang());
    const response = await within(chat("silent"), 3000, "the 504");
    await expectOpenAIError(response, 504, { type: "timeout_error", code: "backend_timeout" });
    expect(a.requests.length + b.requests.length).toBe(2);
    const served = routing(response);
    expect(served.model).toBe("silent");
    expect(["silent/a", "silent/b"]).toContain(served.servedBy!);
    expect(served.attempts).toBe("2");
  });
});

describe("no retry once the client has received a byte", () => {
  test("a stream that stalls after its first chunk ends with the error event; the backend got exactly one request", async () => {
    const stalling = reply.sse([sseChunk("partial"), sseChunk("never sent")], { stallAfter: 1 });
    a.willReply(stalling);
    b.willReply(stalling);
    const response = await chat("stream-stall");
    expect(response.status).toBe(200);
    const { text } = await readBody(response, () => {}, 3000);
    expect(text).toStartWith(sseChunk("partial"));
    const rest = text.slice(sseChunk("partial").length);
    expect(rest).toStartWith(`data: {"error":`);
    expect(JSON.parse(rest.slice("data: ".length)).error.code).toBe("backend_timeout");
    expect(a.requests.length + b.requests.length).toBe(1);
    expect(routing(response).attempts).toBe("1");
  });

  test("a stream whose backend dies after its first chunk ends with the error event; not retried", async () => {
    breaking.willAnswer(
      () =>
        new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(sseChunk("partial"))) }), {
          headers: { "content-type": "text/event-stream" },
        }),
    );
    const before = breaking.arrivals.length;
    const response = await chat("stream-break");
    expect(response.status).toBe(200);
    const { first, rest } = await readFirstChunk(response, 3000);
    expect(new TextDecoder().decode(first.value)).toBe(sseChunk("partial"));
    // The backend crashes and comes straight back: a retry, if there were one, would reach it.
    await breaking.stop();
    breaking.start();
    const { text } = await rest(3000);
    expect(text).toStartWith(`data: {"error":`);
    expect(JSON.parse(text.slice("data: ".length)).error.code).toBe("backend_unreachable");
    expect(breaking.arrivals.length - before).toBe(1);
    expect(b.requests.length).toBe(0);
    expect(routing(response)).toEqual({ model: "stream-break", servedBy: "stream-break/breaking", attempts: "1" });
  });
});

describe("multipart uploads (model in x-model-id, so the body streams)", () => {
  const BOUNDARY = "----routing-test-boundary";
  /** A multipart form of exactly `size` bytes holding a random file. */
  function form(size: number): Uint8Array {
    const head = new TextEncoder().encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    const tail = new TextEncoder().encode(`\r\n--${BOUNDARY}--\r\n`);
    const bytes = new Uint8Array(size);
    bytes.set(head);
    for (let i = head.length; i < size - tail.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, size - tail.length)));
    bytes.set(tail, size - tail.length);
    return bytes;
  }
  const upload = (model: string, body: RequestInit["body"]) =>
    fetch(proxy.url("/v1/audio/transcriptions"), {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}`, "x-model-id": model, authorization: `Bearer ${CLIENT_KEY}` },
      body,
    });
  const failThenServe = () => {
    a.willReply(reply.raw(`{"error":{"message":"a failed"}}`, { status: 500, headers: { "content-type": "application/json" } }));
    b.willReply(reply.json({ text: "transcribed by b" }));
  };
  const same = (got: Uint8Array, sent: Uint8Array) => got.byteLength === sent.byteLength && Buffer.from(got).equals(Buffer.from(sent));

  test("an upload of exactly 8 MiB is replayed: the first target's 500 is retried, the second gets the same bytes", async () => {
    failThenServe();
    const body = form(8 * 1024 * 1024);
    const response = await within(upload("upload-small", body), 5000, "the retried upload");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ text: "transcribed by b" });
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
    expect(same(a.last.body, body)).toBe(true);
    expect(same(b.last.body, body)).toBe(true);
    expect(b.last.headers.get("x-model-id")).toBeNull();
    expect(routing(response)).toEqual({ model: "upload-small", servedBy: "upload-small/b", attempts: "2" });
  });

  test("a 9 MiB upload is sent once: the first target's 500 goes to the client, the second is never called", async () => {
    failThenServe();
    const body = form(9 * 1024 * 1024);
    const response = await within(upload("upload-large", body), 5000, "the relayed 500");
    expect(response.status).toBe(500);
    expect(await response.text()).toBe(`{"error":{"message":"a failed"}}`);
    expect([a.requests.length, b.requests.length]).toEqual([1, 0]);
    expect(same(a.last.body, body)).toBe(true);
    expect(routing(response)).toEqual({ model: "upload-large", servedBy: "upload-large/a", attempts: "1" });
  });

  test("a 9 MiB upload without a declared length (chunked) is sent once, whole and unchanged", async () => {
    failThenServe();
    const body = form(9 * 1024 * 1024);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 256 * 1024) controller.enqueue(body.slice(i, i + 256 * 1024));
        controller.close();
      },
    });
    const response = await within(upload("upload-chunked", chunked), 5000, "the relayed 500");
    expect(response.status).toBe(500);
    await response.arrayBuffer();
    expect(a.last.headers.get("content-length")).toBeNull();
    expect([a.requests.length, b.requests.length]).toEqual([1, 0]);
    expect(same(a.last.body, body)).toBe(true);
  });
});

/** The access-log entry of the request that got `response`, once it has ended. */
async function accessEntry(response: Response): Promise<Record<string, unknown>> {
  const id = response.headers.get("x-request-id")!;
  const line = () => proxy.log.accessLines.find((l) => l.includes(`"requestId":"${id}"`));
  await proxy.log.until(() => line() !== undefined, 5000, `the end of request ${id}`);
  return JSON.parse(line()!);
}

/** The proxy's upstream-error and retry counters for `model`, as `<family> <reason or target>` → value. */
async function triesCounted(model: string): Promise<Record<string, number>> {
  const text = await (await fetch(proxy.url("/metrics"))).text();
  const counted: Record<string, number> = {};
  for (const match of text.matchAll(
    new RegExp(`^cm_proxy_(upstream_errors|retries)_total\\{model="${model}",target="([^"]+)"(?:,reason="([^"]+)")?\\} (\\d+)$`, "gm"),
  )) {
    counted[`${match[1]} ${match[3] ?? match[2]}`] = Number(match[4]);
  }
  return counted;
}

describe("a connection dropped before the answer", () => {
  // Bun's fetch reports a reset and a plain close (FIN) before the answer alike, as ECONNRESET.
  for (const { how, model, backend } of [
    { how: "resets", model: "one-shot", backend: () => oneShot },
    { how: "closes (FIN)", model: "one-shot-fin", backend: () => oneShotFin },
  ]) {
    test(`a backend that ${how} every reused keep-alive connection → every request served, each after one fresh try`, async () => {
      const raw = backend();
      const first = raw.drops;
      for (let i = 0; i < 12; i++) {
        const before = raw.drops;
        const response = await within(chat(model), 5000, `request ${i}`);
        expect(response.status).toBe(200);
        expect(await response.text()).toBe(ONE_SHOT_BODY);
        // A request that found its pooled connection dropped went again at once, on a fresh one.
        expect(routing(response).attempts).toBe(String(1 + raw.drops - before));
      }
      expect(raw.drops - first).toBeGreaterThan(0);
    });
  }

  test("the second try opens a new connection: with used connections pooled, each of which the backend drops, the request is served", async () => {
    const held = await within(Promise.all(Array.from({ length: POOLED }, () => chat("pooled"))), 5000, "the gathered requests");
    for (const response of held) {
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    expect(pooled.connections).toBe(POOLED);
    const response = await within(chat("pooled"), 5000, "the request after them");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(ONE_SHOT_BODY);
    expect(routing(response)).toEqual({ model: "pooled", servedBy: "pooled/pooled#0", attempts: "2" });
    expect([pooled.drops, pooled.connections]).toEqual([1, POOLED + 1]);
    // The dropped try is in the access log's attempts and in the metrics, as an error and a retry.
    expect(await accessEntry(response)).toMatchObject({ model: "pooled", attempts: 2, status: 200, outcome: "ok" });
    expect(await triesCounted("pooled")).toEqual({ "upstream_errors connection_dropped": 1, "retries pooled#0": 1 });
  });

  test("a refused connect on a lone target with attempts: 1 is tried once more at once; refused again, it is the 502", async () => {
    const response = await within(chat("refused"), 5000, "the 502");
    await expectOpenAIError(response, 502, { type: "upstream_error", code: "backend_unreachable" });
    expect(routing(response)).toEqual({ model: "refused", servedBy: "refused/refused#0", attempts: "2" });
    expect(await accessEntry(response)).toMatchObject({ model: "refused", attempts: 2, status: 502, outcome: "upstream_error" });
    expect(await triesCounted("refused")).toEqual({ "upstream_errors connection_dropped": 1, "upstream_errors connect": 1, "retries refused#0": 1 });
  });
});
