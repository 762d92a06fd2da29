import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, postJson } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { ALPHA_KEY, endpointFor, removeTempDirs, startProxy, type ProxyHandle } from "./support/proxy";

let mock: MockBackend;
let proxy: ProxyHandle;

/** model id → (configured url suffix, path prefix the backend must see) */
const CASES: Record<string, [string, string]> = {
  plain: ["", "/v1/"],
  "trailing-slash": ["/", "/v1/"],
  "trailing-slashes": ["//", "/v1/"],
  "ends-in-v1": ["/v1", "/v1/"],
  "ends-in-v1-slash": ["/v1/", "/v1/"],
  "base-path": ["/openai", "/openai/v1/"],
  "base-path-slash": ["/openai/", "/openai/v1/"],
  "base-path-v1-slash": ["/openai/v1/", "/openai/v1/"],
};

beforeAll(async () => {
  mock = startMock("joiner");
  const endpoints = Object.fromEntries(
    Object.entries(CASES).map(([id, [suffix]]) => [id, endpointFor(null, { url: mock.url + suffix, apiKey: ALPHA_KEY, actualModelName: `actual-${id}` })]),
  );
  proxy = await startProxy({ endpoints });
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await proxy.stop();
  await mock.stop();
  removeTempDirs();
});

describe("joining the backend url with the upstream path", () => {
  for (const [id, [suffix, expected]] of Object.entries(CASES)) {
    test(`url "<backend>${suffix}" → chat goes to ${expected}chat/completions`, async () => {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody(id));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(mock.last.path).toBe(`${expected}chat/completions`);
      expect(mock.last.json().model).toBe(`actual-${id}`);
    });

    test(`url "<backend>${suffix}" → passthrough goes to ${expected}embeddings (from /embeddings too)`, async () => {
      await (await postJson(proxy.url("/embeddings?x=1"), { model: id, input: "a" })).arrayBuffer();
      expect(mock.last.path).toBe(`${expected}embeddings?x=1`);
    });
  }
});

describe("client paths from a base URL ending in '/'", () => {
  test("an empty segment (`/v1//models`, `//chat/completions`) is a 308 to the path without it, which clients follow with method, body and query", async () => {
    const manual = await fetch(proxy.url("/v1//models?x=1"), { redirect: "manual" });
    expect(manual.status).toBe(308);
    expect(manual.headers.get("location")).toBe("/v1/models?x=1");
    expect(manual.headers.get("x-request-id")).toBeTruthy();

    const models = await fetch(proxy.url("/v1//models"));
    expect(models.status).toBe(200);
    expect((await models.json()).data.map((model: { id: string }) => model.id)).toContain("plain");

    const chat = await postJson(proxy.url("//chat/completions"), chatBody("plain"));
    expect(chat.status).toBe(200);
    await chat.arrayBuffer();
    expect(mock.last.path).toBe("/v1/chat/completions");
    expect(mock.last.json().model).toBe("actual-plain");
  });

  test("a trailing slash on a relayed path goes to the backend without it (a backend's redirect to its own address never reaches the client)", async () => {
    mock.willReply((request) =>
      request.path.endsWith("/")
        ? reply.raw("", { status: 307, headers: { location: `${mock.url}${request.path.slice(0, -1)}` } })
        : reply.json({ object: "list", data: [] }),
    );
    const response = await postJson(proxy.url("/v1/embeddings/"), { model: "plain", input: "a" });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(mock.last.path).toBe("/v1/embeddings");

    mock.willReply(reply.raw("", { status: 307, headers: { location: `${mock.url}/v1/elsewhere` } }));
    const redirected = await postJson(proxy.url("/v1/embeddings"), { model: "plain", input: "a" }, {}, { redirect: "manual" });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get("location")).toBeNull();
  });
});
