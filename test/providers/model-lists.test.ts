// Health checks and discovery for every provider: each asks its own model list (`/v1/models`,
// Gemini's `/v1beta/models`, Azure's `/openai/models?api-version=…` or `/openai/v1/models`) with its
// own key header, and a discovered Gemini model list (`models[].name`) becomes model ids.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { reply, startMock, type MockBackend, type RecordedRequest } from "../support/mock-backend";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";

const KEY = registerSecret("model-lists-provider-test-0123456789-SECRET", "model-list provider test: backend key");

let backend: MockBackend;
let proxy: ProxyHandle | null = null;

beforeAll(() => {
  backend = startMock("lists");
});
beforeEach(() => backend.reset());
afterAll(async () => {
  await backend.stop();
  removeTempDirs();
});

/** The first request the backend receives whose path starts with `path`. */
async function firstTo(path: string): Promise<RecordedRequest> {
  for (let n = 1; ; n++) {
    const request = await backend.waitForRequests(n);
    if (request.path.startsWith(path)) return request;
  }
}

describe("health checks ask each provider's model list with its key header", () => {
  const cases = [
    ["anthropic", {}, "/v1/models", { "x-api-key": KEY, "anthropic-version": "2023-06-01" }],
    ["gemini", {}, "/v1beta/models", { "x-goog-api-key": KEY }],
    ["azure", { apiVersion: "2024-10-21" }, "/openai/models?api-version=2024-10-21", { "api-key": KEY }],
    ["azure", {}, "/openai/v1/models", { "api-key": KEY }],
  ] as const;
  for (const [provider, extra, path, headers] of cases) {
    test(`${provider} ${path}`, async () => {
      backend.willReply(reply.json({ data: [] }));
      proxy = await startProxy({ endpoints: { m: { provider, url: backend.url, apiKey: KEY, healthCheck: { intervalMs: 100 }, ...extra } } });
      try {
        const request = await firstTo(path.split("?")[0]!);
        expect(request.method).toBe("GET");
        expect(request.path).toBe(path);
        for (const [name, value] of Object.entries(headers)) expect(request.headers.get(name)).toBe(value);
        expect(request.headers.get("authorization")).toBeNull();
      } finally {
        await proxy.stop();
      }
    });
  }
});

describe("discovery", () => {
  test("a gemini source: models[].name without its models/ prefix, under the source's prefix", async () => {
    backend.willReply((request) =>
      request.method === "GET"
        ? reply.json({ models: [{ name: "models/gemini-2.5-flash" }, { name: "models/gemini-embedding-001" }], nextPageToken: "x" })
        : reply.json({ candidates: [{ content: { role: "model", parts: [{ text: "hi" }] }, finishReason: "STOP", index: 0 }] }),
    );
    proxy = await startProxy({
      endpoints: { google: { provider: "gemini", url: backend.url, apiKey: KEY, discover: { prefix: "g/", exclude: ["*embedding*"] } } },
    });
    try {
      const listed = await firstTo("/v1beta/models");
      expect(listed.headers.get("x-goog-api-key")).toBe(KEY);
      const models = await (await fetch(proxy.url("/v1/models"), { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).json();
      expect(models.data.map((model: { id: string }) => model.id)).toEqual(["g/gemini-2.5-flash"]);
      const chat = await fetch(proxy.url("/v1/chat/completions"), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` },
        body: JSON.stringify({ model: "g/gemini-2.5-flash", messages: [{ role: "user", content: "Hi" }] }),
      });
      expect((await chat.json()).choices[0].message.content).toBe("hi");
      expect(backend.last.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    } finally {
      await proxy.stop();
    }
  });

  test("no configured secret appears in any response or log line recorded so far", () => {
    expectNoSecretLeaks();
  });
});
