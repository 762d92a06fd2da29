import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { maskBackendKey } from "../src/config/mask";
import { chatBody, postJson } from "./support/http";
import { defaultCompletion, reply, type MockBackend } from "./support/mock-backend";
import { ALPHA_KEY, BRAVO_KEY, CLIENT_KEY, startHarness, startProxy, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

/** A request body full of things the proxy must leave alone. */
const richBody = {
  model: "gpt",
  messages: [
    { role: "system", content: "Be brief." },
    {
      role: "user",
      content: [
        { type: "text", text: "Hi" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
      ],
    },
  ],
  temperature: 0.25,
  top_p: 1,
  max_tokens: 77,
  stop: ["\n\n"],
  stream_options: null,
  tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "integer" } } } } }],
  tool_choice: "auto",
  response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
  seed: 7,
  user: "u-1",
  // unknown fields, some nested: forwarded untouched
  custom_vendor_flag: true,
  chat_template_kwargs: { enable_thinking: false, nested: { deep: [1, "two", { three: null }] } },
  logit_bias: { "50256": -100 },
  metadata: { "x/y": "z" },
};

const sentHeaders = (mock: MockBackend) => mock.last.headers;

describe("chat completions, non-streamed: what the backend receives", () => {
  for (const prefix of ["", "/v1"]) {
    test(`${prefix}/chat/completions rewrites model to actualModelName and leaves every other field untouched`, async () => {
      const response = await postJson(h.url(`${prefix}/chat/completions`), richBody);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(h.alpha.requests.length).toBe(1);
      expect(h.bravo.requests.length).toBe(0);
      const received = h.alpha.last;
      expect(received.method).toBe("POST");
      expect(received.path).toBe("/v1/chat/completions");
      expect(received.json()).toEqual({ ...richBody, model: "backend-gpt-4o" });
      expect(received.headers.get("content-type")).toBe("application/json");
    });
  }

  test("a body labelled otherwise (a browser's text/plain, curl -d's form type, none) is still read as JSON and sent labelled application/json", async () => {
    for (const contentType of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", null]) {
      const response = await fetch(h.url("/v1/chat/completions"), {
        method: "POST",
        headers: contentType ? { "content-type": contentType } : {},
        body: new TextEncoder().encode(JSON.stringify(richBody)),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(h.alpha.last.json()).toEqual({ ...richBody, model: "backend-gpt-4o" });
      expect(h.alpha.last.headers.get("content-type")).toBe("application/json");
    }
  });

  test("the backend gets Authorization: Bearer <its own key>, never the client's, never the other backend's", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("gpt"))).arrayBuffer();
    await (await postJson(h.url("/v1/chat/completions"), chatBody("llama"))).arrayBuffer();
    expect(sentHeaders(h.alpha).get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
    expect(sentHeaders(h.bravo).get("authorization")).toBe(`Bearer ${BRAVO_KEY}`);
    for (const mock of [h.alpha, h.bravo]) {
      const all = [...mock.last.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
      expect(all).not.toContain(CLIENT_KEY);
    }
    expect([...h.alpha.last.headers].join()).not.toContain(BRAVO_KEY);
    expect([...h.bravo.last.headers].join()).not.toContain(ALPHA_KEY);
    expect(h.bravo.last.json().model).toBe("meta-llama/Llama-3.1-8B-Instruct");
  });

  test('Open WebUI\'s empty "Bearer " key is accepted by an open proxy', async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { authorization: "Bearer " });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(h.alpha.last.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
  });

  test("a model whose id contains '/' routes to its backend with its actual name", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("org/model-x"))).arrayBuffer();
    expect(h.alpha.requests.length).toBe(0);
    expect(h.bravo.last.json().model).toBe("model-x-actual");
  });

  test("the query string is forwarded", async () => {
    await (await postJson(h.url("/v1/chat/completions?api-version=2024-10-21&x=a%20b"), chatBody("gpt"))).arrayBuffer();
    expect(h.alpha.last.path).toBe("/v1/chat/completions?api-version=2024-10-21&x=a%20b");
  });

  test("ordinary end-to-end headers (user-agent, custom x-*) still reach the backend", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { "user-agent": "OpenAI/JS 7", "x-custom-trace": "t-1" })).arrayBuffer();
    expect(sentHeaders(h.alpha).get("user-agent")).toBe("OpenAI/JS 7");
    expect(sentHeaders(h.alpha).get("x-custom-trace")).toBe("t-1");
  });
});

describe("chat completions, non-streamed: what the client receives", () => {
  test("the backend's status, body bytes and content type", async () => {
    const body = '{"id":"x","object":"chat.completion","choices":[],  "odd_spacing":true}';
    h.alpha.willReply(reply.raw(body, { status: 201, headers: { "content-type": "application/json; charset=utf-8", "openai-processing-ms": "42" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("openai-processing-ms")).toBe("42");
    expect(response.headers.get("x-request-id")).toBe(h.alpha.last.headers.get("x-request-id"));
    expect(await response.text()).toBe(body);
  });

  test("the default mock answer comes back intact, naming the backend's model", async () => {
    const response = await postJson(h.url("/chat/completions"), chatBody("llama"));
    expect(await response.json()).toEqual(defaultCompletion("bravo", "meta-llama/Llama-3.1-8B-Instruct"));
  });

  test("no backend key reaches the client in any response header or body", async () => {
    h.alpha.willReply((request) => reply.json({ echoed: request.headers.get("authorization") === `Bearer ${ALPHA_KEY}` }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ echoed: true });
    const all = [...response.headers].join("\n") + text;
    expect(all).not.toContain(ALPHA_KEY);
    expect(all).not.toContain(BRAVO_KEY);
  });
});

describe("a backend that quotes its key in an error", () => {
  test("the client gets the key masked: whole, compressed or sent in chunks, on chat and the passthrough", async () => {
    const echo = { error: { message: `Incorrect API key provided: ${ALPHA_KEY}`, type: "invalid_request_error", code: "invalid_api_key" } };
    const masked = { error: { ...echo.error, message: `Incorrect API key provided: ${maskBackendKey(ALPHA_KEY)}` } };
    const replies = [
      reply.json(echo, { status: 401 }),
      reply.raw(JSON.stringify(echo), { status: 401, headers: { "content-type": "application/json" }, gzip: "always" }),
      reply.sse([JSON.stringify(echo).slice(0, 40), JSON.stringify(echo).slice(40)], { status: 401, headers: { "content-type": "application/json" } }),
    ];
    for (const [path, body] of [
      ["/v1/chat/completions", chatBody("gpt")],
      ["/v1/embeddings", { model: "embed", input: "x" }],
    ] as const) {
      for (const answer of replies) {
        h.alpha.willReply(answer);
        const response = await postJson(h.url(path), body, { "accept-encoding": "gzip" });
        expect(response.status).toBe(401);
        const text = await response.text();
        expect(text).not.toContain(ALPHA_KEY);
        expect(JSON.parse(text)).toEqual(masked);
      }
    }
  });

  test("an error sent in chunks without end is cut at the bound an answer is read whole to (a 502 at once, not a 504 at the idle timeout)", async () => {
    const proxy = await startProxy({
      endpoints: { gpt: { targets: [{ url: h.alpha.url, apiKey: ALPHA_KEY, actualModelName: "m", timeouts: { idleMs: 20_000 } }] } },
    });
    try {
      const mebibyte = new Uint8Array(1024 * 1024).fill(0x61);
      h.alpha.willReply(reply.sse(Array(65).fill(mebibyte), { status: 401, headers: { "content-type": "application/json" }, stallAfter: 65 }));
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"));
      expect(response.status).toBe(502);
      expect((await response.json()).error).toMatchObject({ type: "upstream_error", message: expect.stringContaining("larger than") });
    } finally {
      await proxy.stop();
    }
  });
});

describe("model ids and target names outside printable ASCII", () => {
  test("they name what served a request percent-encoded, the answer and its accounting whole", async () => {
    const proxy = await startProxy({ endpoints: { 模型: { targets: [{ url: h.alpha.url, apiKey: ALPHA_KEY, name: "main–1", actualModelName: "m" }] } } });
    try {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("模型"));
      expect(response.status).toBe(200);
      expect(response.headers.get("x-cm-proxy-model")).toBe(encodeURIComponent("模型"));
      expect(response.headers.get("x-cm-proxy-served-by")).toBe(encodeURIComponent("模型/main–1"));
      expect((await response.json()).object).toBe("chat.completion");
      const id = response.headers.get("x-request-id")!;
      await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(id)), 5000, `the access line of ${id}`);
      expect(JSON.parse(proxy.log.accessLines.find((line) => line.includes(id))!)).toMatchObject({ model: "模型", status: 200, promptTokens: 3 });
      // An error names the model the same way.
      h.alpha.willReply(reply.json({ error: { message: "no" } }, { status: 400 }));
      const refused = await postJson(proxy.url("/v1/chat/completions"), chatBody("模型"));
      expect(refused.status).toBe(400);
      expect(refused.headers.get("x-cm-proxy-model")).toBe(encodeURIComponent("模型"));
    } finally {
      await proxy.stop();
    }
  });
});

const USER_INFO_HEADERS = {
  "X-OpenWebUI-User-Name": "Ada Lovelace",
  "X-OpenWebUI-User-Id": "u-123",
  "X-OpenWebUI-User-Email": "ada@example.com",
  "X-OpenWebUI-User-Role": "admin",
  "X-OpenWebUI-Chat-Id": "chat-9",
};

/** Request headers that are hop-by-hop (plus one named by Connection), none of which may reach a backend. */
const HOP_BY_HOP_REQUEST = {
  connection: "keep-alive, x-drop-me",
  "keep-alive": "timeout=5",
  "x-drop-me": "listed in Connection",
  te: "trailers",
  trailer: "x-checksum",
  upgrade: "h2c",
  "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
  "proxy-connection": "keep-alive",
};

const userInfoNames = Object.keys(USER_INFO_HEADERS).map((name) => name.toLowerCase());
const hopNames = ["keep-alive", "x-drop-me", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection", "transfer-encoding"];

function expectNoHopByHop(headers: Headers) {
  for (const name of hopNames) expect({ name, value: headers.get(name) }).toEqual({ name, value: null });
  // a Connection header, if the HTTP client adds its own, must not carry the client's tokens
  expect(headers.get("connection") ?? "").not.toContain("x-drop-me");
}

describe("header hygiene (default config)", () => {
  test("X-OpenWebUI-User-* and X-OpenWebUI-Chat-Id are not forwarded by default", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), USER_INFO_HEADERS)).arrayBuffer();
    for (const name of userInfoNames) expect({ name, value: sentHeaders(h.alpha).get(name) }).toEqual({ name, value: null });
    expect(JSON.stringify([...sentHeaders(h.alpha)])).not.toContain("ada@example.com");
  });

  test("hop-by-hop request headers are not forwarded", async () => {
    await (await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), HOP_BY_HOP_REQUEST)).arrayBuffer();
    expectNoHopByHop(sentHeaders(h.alpha));
    expect(h.alpha.last.json().model).toBe("backend-gpt-4o");
  });

  test("hop-by-hop response headers from the backend are not passed to the client", async () => {
    h.alpha.willReply(
      reply.raw('{"ok":true}', {
        headers: { "content-type": "application/json", "keep-alive": "timeout=99", "x-drop-me": "1", connection: "x-drop-me", "x-kept": "yes" },
      }),
    );
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    expect(await response.json()).toEqual({ ok: true });
    expect(response.headers.get("keep-alive")).toBeNull();
    expect(response.headers.get("x-drop-me")).toBeNull();
    expect(response.headers.get("x-kept")).toBe("yes");
  });
});

describe("header hygiene with forwardUserInfoHeaders: true", () => {
  let opted: Harness;
  beforeAll(async () => {
    opted = await startHarness({ forwardUserInfoHeaders: true });
  });
  afterAll(() => opted.stop());

  test("X-OpenWebUI-User-* and X-OpenWebUI-Chat-Id are forwarded, hop-by-hop headers still are not", async () => {
    await (await postJson(opted.url("/v1/chat/completions"), chatBody("gpt"), { ...USER_INFO_HEADERS, ...HOP_BY_HOP_REQUEST })).arrayBuffer();
    const headers = opted.alpha.last.headers;
    for (const [name, value] of Object.entries(USER_INFO_HEADERS)) expect({ name, value: headers.get(name) }).toEqual({ name, value });
    expectNoHopByHop(headers);
    expect(headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
  });
});

const GZIP_MAGIC = [0x1f, 0x8b];
const isGzip = (bytes: Uint8Array) => bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
const COMPLETION_JSON = JSON.stringify(defaultCompletion("alpha", "backend-gpt-4o"));

/** Sends a chat request whose raw response bytes are kept (no client-side decompression). */
async function rawChat(acceptEncoding: string | null) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (acceptEncoding !== null) headers["accept-encoding"] = acceptEncoding;
  const response = await fetch(h.url("/v1/chat/completions"), {
    method: "POST",
    headers,
    body: JSON.stringify(chatBody("gpt")),
    decompress: false,
  } as RequestInit);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { response, bytes, encoding: response.headers.get("content-encoding") };
}

describe("compressed backend bodies: content-encoding present iff the body is encoded", () => {
  test("client accepts gzip: the client's Accept-Encoding is forwarded and the gzip body arrives with its header", async () => {
    h.alpha.willReply(reply.raw(COMPLETION_JSON, { gzip: "if-accepted", headers: { "content-type": "application/json" } }));
    const { bytes, encoding } = await rawChat("gzip, deflate");
    expect(h.alpha.last.headers.get("accept-encoding")).toBe("gzip, deflate");
    expect(encoding).toBe("gzip");
    expect(isGzip(bytes)).toBe(true);
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(COMPLETION_JSON);
  });

  test("client accepts only identity: the backend is asked for identity and the body is plain with no content-encoding", async () => {
    h.alpha.willReply(reply.raw(COMPLETION_JSON, { gzip: "if-accepted", headers: { "content-type": "application/json" } }));
    const { bytes, encoding } = await rawChat("identity");
    expect(h.alpha.last.headers.get("accept-encoding")).toBe("identity");
    expect(encoding).toBeNull();
    expect(new TextDecoder().decode(bytes)).toBe(COMPLETION_JSON);
  });

  test("client sends no Accept-Encoding: the backend is not invited to compress", async () => {
    h.alpha.willReply(reply.raw(COMPLETION_JSON, { gzip: "if-accepted", headers: { "content-type": "application/json" } }));
    const response = await fetch(h.url("/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody("gpt")),
      decompress: false,
    } as RequestInit);
    // Bun's fetch may add its own Accept-Encoding; whatever reached the backend, header and body must agree.
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(response.headers.get("content-encoding") === "gzip").toBe(isGzip(bytes));
    const plain = isGzip(bytes) ? Bun.gunzipSync(bytes) : bytes;
    expect(new TextDecoder().decode(plain)).toBe(COMPLETION_JSON);
  });

  test("a backend that gzips regardless: the header stays with the encoded bytes", async () => {
    h.alpha.willReply(reply.raw(COMPLETION_JSON, { gzip: "always", headers: { "content-type": "application/json" } }));
    const { bytes, encoding } = await rawChat("identity");
    expect(encoding).toBe("gzip");
    expect(isGzip(bytes)).toBe(true);
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(COMPLETION_JSON);
  });

  test("an ordinary decompressing client (fetch defaults) reads the gzip body correctly", async () => {
    h.alpha.willReply(reply.raw(COMPLETION_JSON, { gzip: "always", headers: { "content-type": "application/json" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(COMPLETION_JSON);
  });
});
