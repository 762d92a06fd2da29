import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, postJson } from "./support/http";
import { startMock, type MockBackend } from "./support/mock-backend";
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
