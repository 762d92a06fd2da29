import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, postJson, readBody } from "./support/http";
import { rawRequest } from "./hardening/lib/raw-http";
import { reply } from "./support/mock-backend";
import { ALPHA_KEY, closedPort, startHarness, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    {
      log: { format: "json" },
      clientKeys: [{ key: "ck-access-log-test-key-000000000000", name: "team-a" }],
    },
    { dead: { url: `http://127.0.0.1:${closedPort()}` } },
  );
});
afterAll(() => h.stop());
beforeEach(() => {
  h.reset();
  h.proxy.log.accessLines.length = 0;
});

const CLIENT = { authorization: "Bearer ck-access-log-test-key-000000000000" };

/** The access-log entry of the request with this id, once its line is written (an event, not a sleep). */
async function entryFor(id: string): Promise<Record<string, unknown>> {
  const log = h.proxy.log;
  await log.until(() => log.accessLines.some((line) => line.includes(id)), 5000, `the access line of ${id}`);
  return JSON.parse(log.accessLines.find((line) => line.includes(id))!);
}

describe("X-Request-Id", () => {
  test("a sane id from the client is kept: returned, forwarded to the backend, and in the log line", async () => {
    const id = "req-1234.abc:XYZ_9";
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { ...CLIENT, "x-request-id": id });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(response.headers.get("x-request-id")).toBe(id);
    expect(h.alpha.last.headers.get("x-request-id")).toBe(id);
    expect((await entryFor(id)).requestId).toBe(id);
  });

  test("no id: one is generated, returned and forwarded", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), CLIENT);
    await response.arrayBuffer();
    const id = response.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.alpha.last.headers.get("x-request-id")).toBe(id);
    expect((await entryFor(id)).status).toBe(200);
  });

  for (const hostile of ["has space", "x".repeat(129), "line\\nbreak", 'quote"', "é-accent", "<script>"]) {
    test(`a hostile id is replaced: ${JSON.stringify(hostile.slice(0, 20))}`, async () => {
      const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { ...CLIENT, "x-request-id": hostile });
      await response.arrayBuffer();
      const id = response.headers.get("x-request-id")!;
      expect(id).not.toBe(hostile);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(h.alpha.last.headers.get("x-request-id")).toBe(id);
      const entry = await entryFor(id);
      expect(JSON.stringify(entry)).not.toContain(hostile);
    });
  }

  test("errors carry the id too", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("nope"), { ...CLIENT, "x-request-id": "err-1" });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("err-1");
    const entry = await entryFor("err-1");
    expect(entry).toMatchObject({ status: 404, model: "nope", servedModel: null, outcome: "ok" });
  });
});

describe("access log lines", () => {
  test("one JSON object per request with every field", async () => {
    h.alpha.willReply(reply.json({ id: "x", choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), {
      ...CLIENT,
      "x-request-id": "fields-1",
      "x-openwebui-user-id": "user-42",
    });
    await response.arrayBuffer();
    const entry = await entryFor("fields-1");
    expect(Object.keys(entry).sort()).toEqual(
      [
        "time",
        "level",
        "msg",
        "requestId",
        "method",
        "path",
        "model",
        "servedModel",
        "target",
        "attempts",
        "status",
        "bytesOut",
        "ttfbMs",
        "durationMs",
        "promptTokens",
        "completionTokens",
        "costUsd",
        "client",
        "user",
        "outcome",
      ].sort(),
    );
    expect(Object.keys(entry).slice(0, 3)).toEqual(["time", "level", "msg"]); // like every JSON line the process writes
    expect(entry).toMatchObject({
      level: "info",
      msg: "POST /v1/chat/completions 200",
      requestId: "fields-1",
      method: "POST",
      path: "/v1/chat/completions",
      model: "gpt",
      servedModel: "gpt",
      target: "gpt#0",
      attempts: 1,
      status: 200,
      promptTokens: 12,
      completionTokens: 5,
      client: "team-a",
      user: "user-42",
      outcome: "ok",
    });
    expect(entry.bytesOut).toBeGreaterThan(0);
    expect(typeof entry.ttfbMs).toBe("number");
    expect(entry.durationMs as number).toBeGreaterThanOrEqual(entry.ttfbMs as number);
    expect(Date.parse(entry.time as string)).not.toBeNaN();
  });

  test("a streamed request is logged when its body ends, with the bytes the client got", async () => {
    const chunks = ['data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', "data: [DONE]\n\n"];
    h.alpha.willReply(reply.sse(chunks));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), { ...CLIENT, "x-request-id": "stream-1" });
    const { bytes } = await readBody(response);
    const entry = await entryFor("stream-1");
    expect(entry).toMatchObject({ status: 200, outcome: "ok", bytesOut: bytes.length });
  });

  test("a backend that is down: the proxy's 502, logged as upstream_error with the target tried", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("dead"), { ...CLIENT, "x-request-id": "down-1" });
    expect(response.status).toBe(502);
    expect(response.headers.get("x-cm-proxy-served-by")).toBe("dead/dead#0");
    await response.arrayBuffer();
    // The refused connect, and the one more try on a fresh connection that it gets at once.
    expect(await entryFor("down-1")).toMatchObject({ status: 502, model: "dead", attempts: 2, outcome: "upstream_error" });
  });

  test("the proxy's own answers (a model list, an error, /health, /metrics, /ready, /debug, /reload) log the bytes the client got", async () => {
    const asked: [string, RequestInit][] = [
      ["/v1/models", { headers: CLIENT }],
      ["/v1/chat/completions", { method: "POST", headers: { ...CLIENT, "content-type": "application/json" }, body: JSON.stringify(chatBody("no-such-model")) }],
      ["/health", {}],
      ["/metrics", {}],
      ["/ready", {}],
      ["/debug", {}],
      ["/reload", { method: "POST" }],
    ];
    for (const [i, [path, init]] of asked.entries()) {
      const id = `own-bytes-${i}`;
      const response = await fetch(h.url(path), { ...init, headers: { ...(init.headers as Record<string, string>), "x-request-id": id } });
      const bytes = (await response.arrayBuffer()).byteLength;
      expect(bytes).toBeGreaterThan(0);
      expect(await entryFor(id)).toMatchObject({ path, status: response.status, bytesOut: bytes });
    }
  });

  test("an HTTP/1.0 request without a Host header is logged with its own path", async () => {
    const id = "req-http10-no-host";
    const port = Number(new URL(h.url("/")).port);
    const answer = await rawRequest(port, `GET /v1/models?x=1 HTTP/1.0\r\nAuthorization: ${CLIENT.authorization}\r\nX-Request-Id: ${id}\r\n\r\n`);
    expect(answer.status).toBe(200);
    expect(await entryFor(id)).toMatchObject({ method: "GET", path: "/v1/models", status: 200 });
  });

  test("no line holds a key", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), CLIENT)).arrayBuffer();
    await h.proxy.log.until(() => h.proxy.log.accessLines.length > 0, 5000, "a line");
    for (const line of h.proxy.log.accessLines) {
      expect(line).not.toContain(ALPHA_KEY);
      expect(line).not.toContain("ck-access-log-test-key");
    }
  });
});
