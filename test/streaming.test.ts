import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, concat, postJson, readBody } from "./support/http";
import { deferred, within } from "./support/events";
import { reply } from "./support/mock-backend";
import { startHarness, startProxy, type Harness } from "./support/proxy";
import { startFloodingBackend } from "./support/raw-backend";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const encoder = new TextEncoder();
const bytesOf = (chunks: readonly (string | Uint8Array)[]) => concat(chunks.map((c) => (typeof c === "string" ? encoder.encode(c) : c)));

/** A stream with everything a relay might mangle: comments, event/id/retry fields, multi-line data, CRLF, split lines. */
function trickyStream(): (string | Uint8Array)[] {
  const multiByte = encoder.encode('data: {"choices":[{"delta":{"content":" wörld ✓"}}]}\n\n');
  const check = multiByte.indexOf(0xe2); // first byte of "✓": split the character across two chunks
  return [
    ": ping\n\n",
    'event: message\ndata: {"id":"c1","choices":[{"delta":{"content":"Hel',
    'lo"}}]}\n\n',
    "data: line one\ndata: line two\n\n",
    "id: 7\r\nretry: 1000\r\ndata: crlf\r\n\r\n",
    multiByte.slice(0, check + 1),
    multiByte.slice(check + 1),
    "data: [DO",
    "NE]\n\n",
  ];
}

const streamRequest = (model = "gpt", extra: Record<string, unknown> = {}) => chatBody(model, { stream: true, ...extra });

describe("streaming chat completions: headers and bytes", () => {
  for (const prefix of ["", "/v1"]) {
    test(`${prefix}/chat/completions with stream: true relays the exact bytes with SSE headers`, async () => {
      const chunks = trickyStream();
      h.alpha.willReply(reply.sse(chunks));
      const response = await postJson(h.url(`${prefix}/chat/completions`), streamRequest());
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(response.headers.get("x-accel-buffering")).toBe("no");
      const { bytes } = await readBody(response);
      expect(bytes).toEqual(bytesOf(chunks));
      // The proxy asks for stream usage (usage.streamUsage, on by default); nothing else changes.
      expect(h.alpha.last.json()).toEqual({ ...streamRequest(), model: "backend-gpt-4o", stream_options: { include_usage: true } });
    });
  }

  test("a backend's own cache-control and charset do not change the SSE contract", async () => {
    h.alpha.willReply(reply.sse(["data: {}\n\n"], { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "public, max-age=60" } }));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect((await readBody(response)).text).toBe("data: {}\n\n");
  });

  test("stream_options.include_usage reaches the backend and the usage chunk reaches the client", async () => {
    const chunks = [
      'data: {"choices":[{"index":0,"delta":{"content":"A"}}]}\n\n',
      'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n',
      "data: [DONE]\n\n",
    ];
    h.bravo.willReply(reply.sse(chunks));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest("llama", { stream_options: { include_usage: true } }));
    expect((await readBody(response)).text).toBe(chunks.join(""));
    expect(h.bravo.last.json().stream_options).toEqual({ include_usage: true });
    expect(h.bravo.last.json().model).toBe("meta-llama/Llama-3.1-8B-Instruct");
  });

  test("in-stream error events (vLLM, llama.cpp, Ollama styles) pass through unchanged", async () => {
    const chunks = [
      'data: {"choices":[{"delta":{"content":"partial"}}]}\n\n',
      'data: {"error":{"message":"context too long","type":"BadRequestError","param":null,"code":400}}\n\n',
      'error: {"code":500,"message":"llama.cpp failed","type":"server_error"}\n\n',
      '{"error":"ollama bare json line"}\n',
      "data: [DONE]\n\n",
    ];
    h.alpha.willReply(reply.sse(chunks));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
    expect(response.status).toBe(200);
    expect((await readBody(response)).text).toBe(chunks.join(""));
  });

  test("a stream that reports an error mid-way counts as failed (access line, target), whichever style; one without is ok", async () => {
    const begun = 'data: {"choices":[{"delta":{"content":"partial"}}]}\n\n';
    for (const [style, failure] of [
      ["vLLM", 'data: {"error":{"message":"context too long","type":"BadRequestError","param":null,"code":400}}\n\n'],
      ["llama.cpp", 'error: {"code":500,"message":"llama.cpp failed","type":"server_error"}\n\n'],
      ["Ollama", '{"error":"ollama bare json line"}\n'],
      ["none", 'data: {"choices":[{"delta":{"content":"error: in the text, {\\"error\\": quoted"}}]}\n\n'],
    ] as const) {
      h.alpha.willReply(reply.sse([begun, failure, "data: [DONE]\n\n"]));
      const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
      await readBody(response);
      const id = response.headers.get("x-request-id")!;
      await h.proxy.log.until(() => h.proxy.log.accessLines.some((line) => line.includes(id)), 5000, `the ${style} stream's line`);
      const { outcome } = JSON.parse(h.proxy.log.accessLines.find((line) => line.includes(id))!);
      expect({ style, outcome }).toEqual({ style, outcome: style === "none" ? "ok" : "upstream_error" });
    }
  });

  test("a backend answering a stream request with a JSON error passes status, body and type through", async () => {
    const error = { error: { message: "stream not supported", type: "invalid_request_error", param: "stream", code: null } };
    h.alpha.willReply(reply.json(error, { status: 422 }));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
    expect(response.status).toBe(422);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual(error);
  });
});

describe("streaming is unbuffered", () => {
  test("on a slow stream (5 chunks, 200 ms apart) the first chunk reaches the client before the last is sent", async () => {
    const chunks = [0, 1, 2, 3, 4].map((i) => `data: {"choices":[{"delta":{"content":"t${i}"}}]}\n\n`);
    h.alpha.willReply(reply.sse(chunks, { delayMs: 200 }));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
    const { text } = await readBody(response, (_, index) => h.alpha.last.log.push(`client:${index}`));
    expect(text).toBe(chunks.join(""));
    const log = h.alpha.last.log;
    expect(log.indexOf("client:0")).toBeGreaterThan(log.indexOf("sent:0"));
    expect(log.indexOf("client:0")).toBeLessThan(log.indexOf("sent:4"));
  });

  test("a partial line is relayed before the rest of its line exists (no line buffering)", async () => {
    const chunks = ['data: {"choices":[{"delta":{"content":"ha', 'lf"}}]}\n\n', "data: [DONE]\n\n"];
    h.alpha.willReply(reply.sse(chunks, { delayMs: 200 }));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest());
    const received: string[] = [];
    const decoder = new TextDecoder();
    const { text } = await readBody(response, (chunk) => {
      received.push(decoder.decode(chunk, { stream: true }));
      h.alpha.last.log.push(`client:${received.join("")}`);
    });
    expect(text).toBe(chunks.join(""));
    const log = h.alpha.last.log;
    const firstReceipt = log.entries.find((entry) => entry.startsWith("client:"))!;
    expect(firstReceipt).toBe(`client:${chunks[0]}`);
    expect(log.indexOf(firstReceipt)).toBeLessThan(log.indexOf("sent:1"));
  });

  test("a healthy stream longer than firstByteMs + idleMs is never cut (no total-duration limit)", async () => {
    // model "slow" has firstByteMs 300 and idleMs 300; this stream lasts about 1.2 s with 100 ms gaps
    const chunks = Array.from({ length: 13 }, (_, i) => `data: {"i":${i}}\n\n`);
    h.alpha.willReply(reply.sse(chunks, { delayMs: 100 }));
    const response = await postJson(h.url("/v1/chat/completions"), streamRequest("slow"));
    const { text } = await readBody(response);
    expect(text).toBe(chunks.join(""));
    expect(text).not.toContain('"error"');
  });
});

describe("a slow client", () => {
  test("holds the backend back: the proxy reads no more of a stream than its client takes, and relays all of it once the client reads, past idleMs", async () => {
    const TOTAL = 128 * 1024 * 1024;
    const flood = startFloodingBackend(TOTAL);
    // idleMs far below the client's pause: a client that is slow is not a backend that is silent.
    const proxy = await startProxy({ endpoints: { flood: { url: flood.url } }, timeouts: { idleMs: 500 } }, { label: "slow-client proxy log" });
    try {
      // A client that reads the headers and the first bytes, then stops reading.
      let received = 0;
      let tail = "";
      const firstBytes = deferred();
      const closed = deferred();
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port: proxy.server.port,
        socket: {
          data(_socket, data) {
            received += data.byteLength;
            tail = (tail + data.subarray(-64).toString()).slice(-64);
            firstBytes.resolve();
          },
          close: () => closed.resolve(),
        },
      });
      const body = JSON.stringify(streamRequest("flood"));
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      socket.flush();
      await within(firstBytes.promise, 5000, "the first bytes of the flood");
      socket.pause();
      // Unchecked, the proxy would take all 128 MiB from the backend within this wait and hold it for the client.
      const outcome = await within(flood.finished, 3000, "the backend getting rid of the whole stream").then(
        () => "all read",
        () => "held back",
      );
      expect({ outcome, pushedMiB: Math.round(flood.pushed / 2 ** 20) }).toMatchObject({ outcome: "held back" });
      expect(flood.pushed).toBeLessThan(32 * 1024 * 1024);
      socket.resume();
      await within(closed.promise, 30_000, "the client reading the whole stream");
      expect(received).toBeGreaterThan(TOTAL);
      // The end of the backend's stream, not the proxy's error event: the pause was no silence of the backend's.
      expect(tail).toEndWith("aaaa\n\n\r\n0\r\n\r\n");
    } finally {
      await proxy.stop();
      flood.stop();
    }
  }, 60_000);
});
