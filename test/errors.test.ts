// The proxy's own error answers, in OpenAI's shape: invalid requests (400), unknown models and
// routes (404, 405), bodies over maxBodyBytes (413), the 502 for an unreachable backend leaking no
// key and no URL password (on chat and passthrough), and backend errors passed through unchanged.
// Timeouts, refused and reset connections, broken streams and client aborts have their one home in
// hardening/timeouts.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, expectOpenAIError, postJson } from "./support/http";
import { reply } from "./support/mock-backend";
import { BRAVO_KEY, closedPort, startHarness, STANDARD_MODEL_IDS, type Harness } from "./support/proxy";

const DEAD_KEY = "sk-dead-backend-key-0123456789-SECRET";
const MAX_BODY = 64 * 1024;

let h: Harness;
let deadPort: number;

beforeAll(async () => {
  deadPort = closedPort();
  h = await startHarness({ maxBodyBytes: MAX_BODY }, (alpha) => ({
    dead: { url: `http://127.0.0.1:${deadPort}`, apiKey: DEAD_KEY, actualModelName: "dead-actual" },
    "dead-with-credentials": { url: `http://user:url-password-SECRET@127.0.0.1:${deadPort}/v1`, apiKey: DEAD_KEY },
    // Two targets: a retry may follow, so a streamed body is read into memory to be sent again.
    "whisper-duo": { targets: [{ url: alpha.url }, { url: alpha.url }] },
  }));
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const nothingReachedABackend = () => expect(h.alpha.requests.length + h.bravo.requests.length).toBe(0);

describe("errors: invalid requests are 400 in OpenAI's shape and reach no backend", () => {
  for (const path of ["/v1/chat/completions", "/chat/completions", "/v1/embeddings"]) {
    test(`invalid JSON on ${path}`, async () => {
      const response = await postJson(h.url(path), '{"model": "gpt", "messages": [');
      await expectOpenAIError(response, 400, { type: "invalid_request_error" });
      nothingReachedABackend();
    });
  }

  test("missing model on chat names the field", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), { messages: [{ role: "user", content: "Hi" }] });
    const error = await expectOpenAIError(response, 400, { type: "invalid_request_error", param: "model" });
    expect(error.message).toContain("model");
    nothingReachedABackend();
  });

  test("empty model string on chat is a 400 naming model", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody(""));
    await expectOpenAIError(response, 400, { param: "model" });
    nothingReachedABackend();
  });

  const wrongTypes: [string, Record<string, unknown>][] = [
    ["messages", { messages: "Hi" }],
    ["temperature", { temperature: "0.7" }],
    ["stream", { stream: "true" }],
    ["max_tokens", { max_tokens: 1.5 }],
    ["max_tokens", { max_tokens: "0x10" }],
    ["n", { n: "2" }],
    ["seed", { seed: "42" }],
  ];
  for (const [field, override] of wrongTypes) {
    test(`${field} of the wrong type (${JSON.stringify(override[field])}) is a 400 naming '${field}'`, async () => {
      const response = await postJson(h.url("/v1/chat/completions"), { ...chatBody("gpt"), ...override });
      const error = await expectOpenAIError(response, 400, { type: "invalid_request_error", param: field });
      expect(error.message).toContain(field);
      nothingReachedABackend();
    });
  }

  test("JSON nested deeper than 128 levels is a 400 json_too_deep, at once, on chat and passthrough", async () => {
    const deep = `{"model":"gpt","messages":[],"extra":${"[".repeat(200)}${"]".repeat(200)}}`;
    for (const path of ["/v1/chat/completions", "/v1/embeddings"]) {
      await expectOpenAIError(await postJson(h.url(path), deep), 400, { code: "json_too_deep" });
    }
    nothingReachedABackend();
  });

  test("brackets inside strings do not count as nesting", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt", { messages: [{ role: "user", content: "[{".repeat(500) }] }));
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  test("a JSON body that is not an object is a 400", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), "[1,2,3]");
    await expectOpenAIError(response, 400, { type: "invalid_request_error" });
    nothingReachedABackend();
  });
});

describe("errors: unknown model and unusual requests", () => {
  test("chat with an unknown model is a 404 model_not_found listing every available model", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt-5-turbo"));
    const error = await expectOpenAIError(response, 404, { type: "invalid_request_error", code: "model_not_found" });
    for (const id of ["gpt-5-turbo", ...STANDARD_MODEL_IDS]) expect(error.message).toContain(id);
    nothingReachedABackend();
  });

  test("the 404 quotes at most 200 characters of a huge model id", async () => {
    const huge = "m".repeat(10_000);
    const error = await expectOpenAIError(await postJson(h.url("/v1/chat/completions"), chatBody(huge)), 404, { code: "model_not_found" });
    expect(error.message).toContain(`'${"m".repeat(200)}…'`);
    expect(error.message.length).toBeLessThan(1000);
  });

  test("methods the OpenAI APIs never use (PROPFIND, PURGE) are 405 and reach no backend", async () => {
    for (const method of ["PROPFIND", "PURGE"]) {
      const response = await fetch(h.url("/v1/files"), { method, headers: { "x-model-id": "gpt" } });
      await expectOpenAIError(response, 405, { code: "method_not_allowed" });
    }
    nothingReachedABackend();
  });

  test("a path of the proxy's own with another method (GET /reload, POST /health) is a 405 naming what it takes, and reaches no backend", async () => {
    for (const [method, path, allowed] of [
      ["GET", "/reload", "POST"],
      ["POST", "/v1/health", "GET, HEAD"],
      ["DELETE", "/usage", "GET, HEAD"],
      ["PUT", "/status.json", "GET, HEAD"],
    ] as const) {
      const response = await fetch(h.url(path), {
        method,
        headers: { "x-model-id": "gpt", "content-type": "application/json" },
        body: method === "GET" ? undefined : "{}",
      });
      expect(response.headers.get("allow")).toBe(allowed);
      await expectOpenAIError(response, 405, { code: "method_not_allowed", messageIncludes: [allowed] });
    }
    // An API path the proxy serves in part is the backend's for its other methods (GET lists stored completions).
    await (await fetch(h.url("/v1/chat/completions?limit=1"), { headers: { "x-model-id": "gpt" } })).arrayBuffer();
    expect(h.alpha.last.method).toBe("GET");
    expect(h.alpha.last.path).toBe("/v1/chat/completions?limit=1");
  });

  test("an unknown route with no model is an OpenAI-shaped error, not an HTML page", async () => {
    const response = await fetch(h.url("/v1/definitely/not/a/route"));
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await expectOpenAIError(response, response.status);
  });
});

/** A body of exactly `size` bytes that is valid JSON. */
const jsonOfSize = (size: number) => {
  const prefix = '{"model":"gpt","messages":[{"role":"user","content":"';
  const suffix = '"}]}';
  return prefix + "x".repeat(size - prefix.length - suffix.length) + suffix;
};

/** A body sent with chunked transfer encoding (no Content-Length), in 8 KiB pieces. */
function chunkedBody(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 8192));
      at += 8192;
    },
  });
}

describe("errors: bodies over maxBodyBytes are 413", () => {
  test("with a Content-Length over the limit", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), jsonOfSize(MAX_BODY + 1));
    const error = await expectOpenAIError(response, 413);
    expect(error.message).toContain(String(MAX_BODY));
    nothingReachedABackend();
  });

  test("with a chunked body (no Content-Length) over the limit", async () => {
    const response = await fetch(h.url("/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunkedBody(jsonOfSize(MAX_BODY * 2)),
    });
    await expectOpenAIError(response, 413);
    nothingReachedABackend();
  });

  test("a chunked body at exactly the limit is accepted", async () => {
    const response = await fetch(h.url("/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunkedBody(jsonOfSize(MAX_BODY)),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(h.alpha.last.body.byteLength).toBe(jsonOfSize(MAX_BODY).replace('"gpt"', '"backend-gpt-4o"').length);
  });

  test("a passthrough JSON body with a Content-Length over the limit", async () => {
    const response = await postJson(h.url("/v1/embeddings"), { model: "embed", input: "x".repeat(MAX_BODY) });
    await expectOpenAIError(response, 413);
    nothingReachedABackend();
  });

  test("a chunked passthrough upload over the limit, to a model that may retry (its body kept to send again)", async () => {
    const response = await fetch(h.url("/v1/audio/transcriptions"), {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-model-id": "whisper-duo" },
      body: chunkedBody("x".repeat(MAX_BODY * 2)),
    });
    await expectOpenAIError(response, 413);
    nothingReachedABackend();
  });

  test("a passthrough binary upload with a Content-Length over the limit", async () => {
    const response = await fetch(h.url("/v1/audio/transcriptions"), {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-model-id": "whisper" },
      body: new Uint8Array(MAX_BODY + 1),
    });
    await expectOpenAIError(response, 413);
    nothingReachedABackend();
  });
});

describe("errors: a client that leaves while its body is read", () => {
  test("is a 499 client_aborted in its access line, not a 500 nor an unhandled error in the log", async () => {
    const abort = new AbortController();
    const sentSome = Promise.withResolvers<void>();
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"embed","input":"'));
        sentSome.resolve();
        return new Promise(() => {}); // and nothing more
      },
    });
    const sent = fetch(h.url("/v1/embeddings"), {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "gone-mid-body" },
      body,
      signal: abort.signal,
    }).catch(() => null);
    await sentSome.promise;
    // The proxy has the request (its record is open) and waits for the rest of the body.
    for (let i = 0; i < 400 && h.proxy.server.observe.inFlight === 0; i++) await Bun.sleep(5);
    expect(h.proxy.server.observe.inFlight).toBe(1);
    abort.abort();
    await sent;
    await h.proxy.log.until(() => h.proxy.log.accessLines.some((line) => line.includes("gone-mid-body")), 5000, "the access line of the request that left");
    expect(JSON.parse(h.proxy.log.accessLines.find((line) => line.includes("gone-mid-body"))!)).toMatchObject({ status: 499, outcome: "client_aborted" });
    expect(h.proxy.log.text).not.toContain("unhandled");
    nothingReachedABackend();
  });
});

describe("errors: unreachable backends (502), leaking nothing", () => {
  // The plain case, a closed port on chat (type, code, the model named, no key, no address), is
  // hardening/timeouts.test.ts's "502 when nothing listens on the backend's port".
  test("the 502 for a url with credentials leaks neither the key nor the url's password", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("dead-with-credentials"));
    const error = await expectOpenAIError(response, 502, { messageIncludes: ["dead-with-credentials"] });
    const everything = JSON.stringify(error) + [...response.headers].join() + h.proxy.log.text;
    expect(everything).not.toContain(DEAD_KEY);
    expect(everything).not.toContain("url-password-SECRET");
  });

  test("a passthrough to a closed port is a 502 too, naming the model and never its key", async () => {
    const response = await postJson(h.url("/v1/embeddings"), { model: "dead", input: "x" });
    const error = await expectOpenAIError(response, 502, { type: "upstream_error", code: "backend_unreachable", messageIncludes: ["dead"] });
    expect(JSON.stringify(error) + h.proxy.log.text).not.toContain(DEAD_KEY);
  });
});

describe("errors from the backend pass through unchanged", () => {
  test("429 with Retry-After and rate-limit headers: status, headers and body unchanged", async () => {
    const body = { error: { message: "Rate limit reached", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } };
    h.bravo.willReply(reply.json(body, { status: 429, headers: { "retry-after": "17", "retry-after-ms": "17000", "x-ratelimit-remaining-requests": "0" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("llama"));
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("17");
    expect(response.headers.get("retry-after-ms")).toBe("17000");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(await response.text()).toBe(JSON.stringify(body));
    expect(h.bravo.requests.length).toBe(1); // no retries by the proxy
  });

  test("500 with a TGI-style body: status, content type and exact bytes", async () => {
    const raw = '{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}';
    h.alpha.willReply(reply.raw(raw, { status: 500, headers: { "content-type": "application/json", "x-backend-trace": "abc" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("x-backend-trace")).toBe("abc");
    expect(await response.text()).toBe(raw);
    expect(h.alpha.requests.length).toBe(1);
  });

  test("503 with a plain-text body passes through as text on the passthrough route", async () => {
    h.alpha.willReply(reply.raw("upstream overloaded\n", { status: 503, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "3" } }));
    const response = await postJson(h.url("/v1/embeddings"), { model: "embed", input: "x" });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await response.text()).toBe("upstream overloaded\n");
  });

  test("a backend's 401 (wrong backend key) is passed through and names no key of the proxy", async () => {
    const body = { error: { message: "Incorrect API key provided", type: "invalid_request_error", param: null, code: "invalid_api_key" } };
    h.bravo.willReply(reply.json(body, { status: 401, headers: { "www-authenticate": 'Bearer realm="x"' } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("llama"));
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(text).toBe(JSON.stringify(body));
    expect(text).not.toContain(BRAVO_KEY);
  });
});
