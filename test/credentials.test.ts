// Client credentials stay with the proxy, whatever header carries them (`authorization`,
// `proxy-authorization`, `api-key`, `x-api-key`, `x-goog-api-key`, `cookie`): a backend sees only
// its own configured key. Client keys are accepted from `Authorization: Bearer`, `api-key` and
// `x-api-key`, so Azure OpenAI and Anthropic-style SDKs work against a keyed proxy. A client's
// `Connection` header cannot strip the headers the proxy sets.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { AzureOpenAI } from "openai";
import { rawHttp, rawRequest, type RawResponse } from "./hardening/lib/raw-http";
import { chatBody, expectOpenAIError } from "./support/http";
import { reply, startMock, type MockBackend, type RecordedRequest } from "./support/mock-backend";
import { ALPHA_KEY, endpointFor, startHarness, startProxy, type Harness } from "./support/proxy";

const SDK_KEY = "ck-credentials-sdk-5a1f0e9d3c7b";
const AZURE_API_VERSION = "2024-10-21";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clientKeys: [{ key: SDK_KEY, name: "sdk" }] }, (alpha: MockBackend) => ({
    keyless: endpointFor(alpha, { apiKey: "", actualModelName: "keyless-actual" }),
  }));
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

/** A request exactly as written, so no HTTP client adds, merges or drops a header on the way. */
function rawPost(path: string, body: unknown, headers: Record<string, string>): Promise<RawResponse> {
  const request = rawHttp("POST", path, { "content-type": "application/json", ...headers }, JSON.stringify(body));
  return rawRequest(h.proxy.server.port, request, 5000, `POST ${path}`);
}

const bearer = (key: string) => `Bearer ${key}`;
const headerText = (seen: RecordedRequest) => [...seen.headers].map(([name, value]) => `${name}: ${value}`).join("\n");

/** Asserts the backend saw `authorization` (its own key, or none) and none of `clientValues` anywhere in its headers. */
function expectOnlyBackendKey(seen: RecordedRequest, authorization: string | null, clientValues: readonly string[]) {
  expect(seen.headers.get("authorization")).toBe(authorization);
  const text = headerText(seen);
  for (const value of clientValues) expect({ value, leaked: text.includes(value) }).toEqual({ value, leaked: false });
}

/** Each header a client of some SDK family may put a credential in, with a value no backend may see. */
const CLIENT_CREDENTIALS: Record<string, string> = {
  "api-key": "azure-client-secret-7d2e4f",
  "x-api-key": "anthropic-client-secret-1b9c3a",
  "proxy-authorization": "Basic cHJveHktY2xpZW50LXNlY3JldC04ZTRm",
  "x-goog-api-key": "google-client-secret-6f0a2d",
  cookie: "session=browser-client-secret-3c5e7b",
};

/** A chat and a passthrough route, both answered by the alpha backend. */
const ROUTES = [
  { path: "/v1/chat/completions", body: chatBody("gpt"), model: "backend-gpt-4o" },
  { path: "/v1/embeddings", body: { model: "embed", input: "x" }, model: "text-embedding-3-small" },
];

describe("no client credential reaches a backend", () => {
  for (const [name, value] of Object.entries(CLIENT_CREDENTIALS)) {
    test(`${name}: the backend never sees the client's value, only its own key`, async () => {
      for (const route of ROUTES) {
        const answer = await rawPost(route.path, route.body, { authorization: bearer(SDK_KEY), [name]: value });
        expect({ path: route.path, status: answer.status }).toEqual({ path: route.path, status: 200 });
        const seen = h.alpha.last;
        expect(seen.json().model).toBe(route.model);
        expect(seen.headers.has(name)).toBe(false);
        expectOnlyBackendKey(seen, bearer(ALPHA_KEY), [value, SDK_KEY]);
      }
    });
  }

  test("a backend whose apiKey is empty gets no Authorization at all, and no client credential", async () => {
    const answer = await rawPost("/v1/chat/completions", chatBody("keyless"), { authorization: bearer(SDK_KEY), ...CLIENT_CREDENTIALS });
    expect(answer.status).toBe(200);
    const seen = h.alpha.last;
    expect(seen.json().model).toBe("keyless-actual");
    expectOnlyBackendKey(seen, null, [SDK_KEY, ...Object.values(CLIENT_CREDENTIALS)]);
  });
});

describe("client keys from each SDK family's header", () => {
  const KEY_HEADERS: Record<string, (key: string) => Record<string, string>> = {
    "Authorization: Bearer": (key) => ({ authorization: bearer(key) }),
    "api-key": (key) => ({ "api-key": key }),
    "x-api-key": (key) => ({ "x-api-key": key }),
  };

  for (const [name, send] of Object.entries(KEY_HEADERS)) {
    test(`${name}: the right key is accepted and stays with the proxy; a wrong one is a 401 in OpenAI's shape`, async () => {
      const ok = await rawPost("/v1/chat/completions", chatBody("gpt"), send(SDK_KEY));
      expect(ok.status).toBe(200);
      expectOnlyBackendKey(h.alpha.last, bearer(ALPHA_KEY), [SDK_KEY]);

      const wrong = "ck-credentials-wrong-0000000000";
      const response = await fetch(h.url("/v1/chat/completions"), {
        method: "POST",
        headers: { "content-type": "application/json", ...send(wrong) },
        body: JSON.stringify(chatBody("gpt")),
      });
      const error = await expectOpenAIError(response, 401, { type: "authentication_error", code: "invalid_api_key" });
      expect(error.message).not.toContain(wrong);
      expect(h.alpha.requests.length).toBe(1);
    });
  }

  test("without any key the 401 names the three headers a key may come in", async () => {
    const response = await fetch(h.url("/v1/models"), { headers: { "x-goog-api-key": SDK_KEY, cookie: `key=${SDK_KEY}` } });
    await expectOpenAIError(response, 401, {
      type: "authentication_error",
      code: "invalid_api_key",
      messageIncludes: ["Authorization: Bearer", "api-key", "x-api-key"],
    });
  });

  test("when several headers carry keys, one configured key among them is enough", async () => {
    const response = await fetch(h.url("/v1/models"), { headers: { authorization: bearer("ck-not-configured-000000"), "x-api-key": SDK_KEY } });
    expect(response.status).toBe(200);
    expect((await response.json()).object).toBe("list");
  });
});

describe("the official openai SDK's AzureOpenAI client (sends its key as api-key)", () => {
  test("works against the keyed proxy; the backend gets only its own key", async () => {
    const requested: string[] = [];
    const client = new AzureOpenAI({
      baseURL: h.url("/v1"),
      apiKey: SDK_KEY,
      apiVersion: AZURE_API_VERSION,
      maxRetries: 0,
      fetch: (url: string | URL | Request, init?: RequestInit) => {
        requested.push(String(url));
        return fetch(url, init);
      },
    });
    const completion = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] });
    expect(completion.choices[0]!.message.content).toBe("hello from alpha");
    // Whatever the base URL, the SDK puts `/deployments/<model>` into the path of every model-scoped
    // call; the proxy routes it to the model's backend, its model rewritten.
    expect(requested).toEqual([h.url(`/v1/deployments/gpt/chat/completions?api-version=${AZURE_API_VERSION}`)]);
    const seen = h.alpha.last;
    expect(seen.pathname).toEndWith("/chat/completions");
    expect(seen.json().model).toBe("backend-gpt-4o");
    expect(seen.headers.has("api-key")).toBe(false);
    expectOnlyBackendKey(seen, bearer(ALPHA_KEY), [SDK_KEY]);
  });

  test("a wrong api-key is the SDK's AuthenticationError", async () => {
    const client = new AzureOpenAI({ baseURL: h.url("/v1"), apiKey: "ck-credentials-wrong-azure-000", apiVersion: AZURE_API_VERSION, maxRetries: 0 });
    const error = await client.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AzureOpenAI.AuthenticationError);
    expect((error as InstanceType<typeof AzureOpenAI.AuthenticationError>).code).toBe("invalid_api_key");
    expect(h.alpha.requests.length).toBe(0);
  });
});

describe("a client's Connection header cannot strip what the proxy sets", () => {
  test("Connection: content-type, authorization, x-custom drops only x-custom", async () => {
    const answer = await rawPost("/v1/chat/completions", chatBody("gpt"), {
      authorization: bearer(SDK_KEY),
      connection: "content-type, authorization, x-custom",
      "x-custom": "hop-by-hop-by-request",
      "x-kept": "end-to-end",
    });
    expect(answer.status).toBe(200);
    const seen = h.alpha.last;
    expect(seen.headers.get("content-type")).toBe("application/json");
    expect(seen.json().model).toBe("backend-gpt-4o");
    expect(seen.headers.get("x-custom")).toBeNull();
    expect(seen.headers.get("x-kept")).toBe("end-to-end");
    expectOnlyBackendKey(seen, bearer(ALPHA_KEY), [SDK_KEY]);
  });
});

describe("a backend's redirect never carries its key to another address", () => {
  // fetch drops only `Authorization` when a redirect leaves the origin: the key headers of the other
  // providers (x-api-key, x-goog-api-key, api-key) would follow it to whatever address it names.
  test("discovery and health checks do not follow a model list's redirect", async () => {
    const elsewhere = startMock("elsewhere");
    const home = startMock("home");
    home.willReply(() => reply.raw("", { status: 302, headers: { location: `${elsewhere.url}/v1/models` } }));
    const keys = { anthropic: "sk-ant-redirected-0123456789", gemini: "g-redirected-0123456789ab", azure: "az-redirected-0123456789ab" };
    const proxy = await startProxy({
      endpoints: {
        ...Object.fromEntries(
          Object.entries(keys).map(([provider, apiKey]) => [`${provider}-source`, { provider, url: home.url, apiKey, discover: { prefix: `${provider}/` } }]),
        ),
        ...Object.fromEntries(
          Object.entries(keys).map(([provider, apiKey]) => [`${provider}-checked`, { provider, url: home.url, apiKey, healthCheck: { intervalMs: 100 } }]),
        ),
      },
    });
    try {
      // Discovery listed at start; the checks run every 100 ms.
      await Bun.sleep(500);
      const listings = home.requests.filter((seen) => seen.method === "GET").length;
      expect(listings).toBeGreaterThanOrEqual(6);
      expect(elsewhere.requests.map((seen) => headerText(seen))).toEqual([]);
    } finally {
      await proxy.stop();
      await Promise.all([home.stop(), elsewhere.stop()]);
    }
  });
});
