// provider "azure", black box against a recording mock: Azure's paths (deployment paths with
// api-version, or the v1 paths with the model in the body) and its `api-key` header, never
// Authorization; answers and streams relayed byte for byte, as for any OpenAI-compatible backend.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { chatBody, expectOpenAIError, postJson, readBody } from "../support/http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";

const AZURE_KEY = registerSecret("azure-key-provider-test-0123456789-SECRET", "azure provider test: backend key");
const VERSION = "2024-10-21";

let azure: MockBackend;
let proxy: ProxyHandle;
let client: OpenAI;

beforeAll(async () => {
  azure = startMock("azure");
  proxy = await startProxy(
    {
      endpoints: {
        classic: { provider: "azure", url: azure.url, apiKey: AZURE_KEY, actualModelName: "gpt-4o-prod", apiVersion: VERSION },
        v1: { provider: "azure", url: `${azure.url}/openai/v1`, apiKey: AZURE_KEY, actualModelName: "gpt-4o-mini" },
        "classic-embed": { provider: "azure", url: `${azure.url}/openai`, apiKey: AZURE_KEY, actualModelName: "embed-prod", apiVersion: VERSION },
      },
    },
    { label: "azure provider proxy log" },
  );
  client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => azure.reset());
afterAll(async () => {
  await proxy.stop();
  await azure.stop();
  removeTempDirs();
});

function expectAzureAuth() {
  const headers = azure.last.headers;
  expect(headers.get("api-key")).toBe(AZURE_KEY);
  expect(headers.get("authorization")).toBeNull();
  expect([...headers].join()).not.toContain(CLIENT_KEY);
}

describe("paths and key", () => {
  test("with apiVersion: /openai/deployments/<actualModelName>/chat/completions?api-version=…, the answer byte for byte", async () => {
    const exact =
      '{ "id":"chatcmpl-az",  "object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi from azure"},"finish_reason":"stop"}],\n"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}';
    azure.willReply(reply.raw(exact, { headers: { "content-type": "application/json" } }));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("classic", { temperature: 0.2 }));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(exact);
    expect(azure.last.path).toBe(`/openai/deployments/gpt-4o-prod/chat/completions?api-version=${VERSION}`);
    expect(azure.last.json()).toEqual({ model: "gpt-4o-prod", messages: [{ role: "user", content: "Hi" }], temperature: 0.2 });
    expectAzureAuth();
  });

  test("without apiVersion: /openai/v1/chat/completions with the model in the body (a url ending in /openai/v1 is the same)", async () => {
    const completion = await client.chat.completions.create({ model: "v1", messages: [{ role: "user", content: "Hi" }] });
    expect(completion.choices[0]!.message.content).toBe("hello from azure");
    expect(azure.last.path).toBe("/openai/v1/chat/completions");
    expect(azure.last.json().model).toBe("gpt-4o-mini");
    expectAzureAuth();
  });

  test("a stream is relayed byte for byte", async () => {
    const chunks = [
      'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
      ": azure keep-alive\n\n",
      'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n',
      'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n',
      "data: [DONE]\n\n",
    ];
    azure.willReply(reply.sse(chunks));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("classic", { stream: true, stream_options: { include_usage: true } }));
    expect((await readBody(response)).text).toBe(chunks.join(""));
    expect(azure.last.path).toBe(`/openai/deployments/gpt-4o-prod/chat/completions?api-version=${VERSION}`);
  });

  test("other operations: embeddings below the deployment, files at /openai/files, each with the api-version", async () => {
    azure.willReply(reply.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5] }], usage: { prompt_tokens: 1, total_tokens: 1 } }));
    const embedded = await client.embeddings.create({ model: "classic-embed", input: "x", encoding_format: "float" });
    expect(embedded.data[0]!.embedding).toEqual([0.5]);
    expect(azure.last.path).toBe(`/openai/deployments/embed-prod/embeddings?api-version=${VERSION}`);
    expectAzureAuth();

    azure.willReply(reply.json({ object: "list", data: [] }));
    const files = await fetch(proxy.url("/v1/files?purpose=batch"), { headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-model-id": "classic" } });
    expect(files.status).toBe(200);
    await files.text();
    expect(azure.last.path).toBe(`/openai/files?api-version=${VERSION}&purpose=batch`);
  });

  test("an Azure-style client path: its own api-version gives way to the target's", async () => {
    const response = await postJson(proxy.url("/openai/deployments/classic/chat/completions?api-version=2023-05-15"), {
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(azure.last.path).toBe(`/openai/deployments/gpt-4o-prod/chat/completions?api-version=${VERSION}`);
  });

  test("a deployment name that is not percent-encoding is a 400 naming it, sent nowhere", async () => {
    const before = azure.requests.length;
    const response = await postJson(proxy.url("/openai/deployments/bad%ZZname/chat/completions?api-version=2023-05-15"), {
      messages: [{ role: "user", content: "Hi" }],
    });
    await expectOpenAIError(response, 400, { code: "invalid_path", messageIncludes: ["bad%ZZname"] });
    expect(azure.requests.length).toBe(before);
  });

  test("no backend key in any log line, nor any configured secret in anything recorded", () => {
    for (const line of [...proxy.log.lines, ...proxy.log.accessLines]) expect(line).not.toContain(AZURE_KEY);
    expectNoSecretLeaks();
  });
});
