// Access control (issue 4): client keys (401 / 403 / filtered /models, `${ENV}` values), admin
// routes (admin key, CM_OPEN_WEBUI_PROXY_ADMIN_KEY, loopback-only without one), /health always
// open, and the secret check: no configured key appears in any response or log line, whichever
// header (`Authorization`, `api-key`, `x-api-key`) a client sent it in.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { writeFileSync } from "node:fs";
import { authorizeAdmin } from "../../src/access/admin";
import { digest } from "../../src/access/secret";
import { ConfigError } from "../../src/config/load";
import { maskAccessKey, maskBackendKey } from "../../src/config/mask";
import { ProxyError } from "../../src/model/errors";
import { expectOpenAIError } from "../support/http";
import { rawRequest } from "./lib/raw-http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { spawnCli } from "../support/process";
import { closedPort, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { expectNoSecretLeaks, recordText, registerSecret, rfetch } from "../support/transcript";

const ALPHA_KEY = registerSecret("sk-acc-alpha-7c1e9a0b44d2-BACKEND-alpha", "backend key alpha");
const BRAVO_KEY = registerSecret("sk-acc-bravo-5f03b8e2c9a1-BACKEND-bravo", "backend key bravo");
const DEAD_KEY = registerSecret("sk-acc-dead-0a9b8c7d6e5f-BACKEND-dead", "backend key of the unreachable model");
const HANG_KEY = registerSecret("sk-acc-hang-1b2c3d4e5f60-BACKEND-hang", "backend key of the hanging model");
const FULL_KEY = registerSecret("ck-acc-full-93be1d0c7a52-CLIENT-full", "client key (all models)");
const LIMITED_KEY = registerSecret("ck-acc-limited-4e8f2a6b1c3d-CLIENT-lim", "client key (gpt, embed) from ${ENV}");
const ADMIN_KEY = registerSecret("ak-acc-admin-2d4f6a8c0e1b-ADMIN-key", "admin key");
const ENV_ADMIN_KEY = registerSecret("ak-acc-envadmin-8a6c4e2f0b1d-ADMIN-env", "admin key from CM_OPEN_WEBUI_PROXY_ADMIN_KEY");
const NEW_FILE_KEY = registerSecret("sk-acc-newfile-3e5a7c9b1d0f-BACKEND-new", "backend key only in a rejected config file");
const FALLBACK_KEY = registerSecret("ck-acc-fallback-6e4c2a0f8d1b-CLIENT-fb", "client key from a ${NAME:-fallback}");

const LIMITED_ENV = "HARDENING_ACCESS_LIMITED_CLIENT_KEY";
const ALL_MODELS = ["gpt", "llama", "org/model-x", "embed", "dead", "hang"];

let alpha: MockBackend;
let bravo: MockBackend;
let hanger: MockBackend;
let keyed: ProxyHandle;
let open: ProxyHandle;
const savedEnv = { limited: process.env[LIMITED_ENV], admin: process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY };

function endpoints() {
  return {
    gpt: { url: alpha.url, apiKey: ALPHA_KEY, actualModelName: "backend-gpt", displayName: "GPT" },
    llama: { url: bravo.url, apiKey: BRAVO_KEY, actualModelName: "backend-llama", displayName: "Llama" },
    "org/model-x": { url: bravo.url, apiKey: BRAVO_KEY, actualModelName: "backend-x" },
    embed: { url: alpha.url, apiKey: ALPHA_KEY, actualModelName: "backend-embed" },
    dead: { url: `http://127.0.0.1:${closedPort()}`, apiKey: DEAD_KEY },
    hang: { url: hanger.url, apiKey: HANG_KEY, timeouts: { firstByteMs: 300 } },
  };
}

const keyedConfig = () => ({
  endpoints: endpoints(),
  clientKeys: [
    { key: FULL_KEY, name: "full" },
    { key: `\${${LIMITED_ENV}}`, name: "limited", models: ["gpt", "embed"] },
  ],
  adminKey: ADMIN_KEY,
  maxBodyBytes: 64 * 1024,
});

beforeAll(async () => {
  alpha = startMock("alpha");
  bravo = startMock("bravo");
  hanger = startMock("hanger").willReply(reply.hang());
  process.env[LIMITED_ENV] = LIMITED_KEY;
  delete process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY;
  keyed = await startProxy(keyedConfig(), { label: "keyed proxy log" });
  open = await startProxy({ endpoints: endpoints() }, { label: "open proxy log" });
});

beforeEach(() => {
  alpha.reset();
  bravo.reset();
  hanger.reset();
  hanger.willReply(reply.hang());
});

afterAll(async () => {
  await keyed?.stop();
  await open?.stop();
  await Promise.all([alpha?.stop(), bravo?.stop(), hanger?.stop()]);
  if (savedEnv.limited === undefined) delete process.env[LIMITED_ENV];
  else process.env[LIMITED_ENV] = savedEnv.limited;
  if (savedEnv.admin === undefined) delete process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY;
  else process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY = savedEnv.admin;
  removeTempDirs();
});

interface Call {
  method?: string;
  authorization?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

function call(base: ProxyHandle, path: string, { method = "GET", authorization = null, body, headers = {} }: Call = {}) {
  const all: Record<string, string> = { ...headers };
  if (authorization !== null) all.authorization = authorization;
  let payload: string | FormData | undefined;
  if (body instanceof FormData || typeof body === "string") payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    all["content-type"] ??= "application/json";
  }
  return rfetch(base.url(path), { method, headers: all, body: payload });
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "hi" }], ...extra });
const bearer = (key: string) => `Bearer ${key}`;
const backendRequests = () => alpha.requests.length + bravo.requests.length + hanger.requests.length;

/** Every client-facing route family: models, one model, chat, passthrough (JSON, query, header, form). */
const CLIENT_ROUTES: { name: string; path: string; method: string; body?: () => unknown; headers?: Record<string, string> }[] = [
  { name: "GET /models", path: "/models", method: "GET" },
  { name: "GET /v1/models", path: "/v1/models", method: "GET" },
  { name: "GET /models/gpt", path: "/models/gpt", method: "GET" },
  { name: "GET /v1/models/org/model-x", path: "/v1/models/org/model-x", method: "GET" },
  { name: "POST /chat/completions", path: "/chat/completions", method: "POST", body: () => chat("gpt") },
  { name: "POST /v1/chat/completions (stream)", path: "/v1/chat/completions", method: "POST", body: () => chat("gpt", { stream: true }) },
  { name: "POST /v1/embeddings (passthrough, JSON model)", path: "/v1/embeddings", method: "POST", body: () => ({ model: "embed", input: "x" }) },
  { name: "GET /v1/files?model=gpt (passthrough, query model)", path: "/v1/files?model=gpt", method: "GET" },
  {
    name: "POST /audio/speech (passthrough, x-model-id)",
    path: "/audio/speech",
    method: "POST",
    body: () => "raw",
    headers: { "x-model-id": "gpt", "content-type": "application/octet-stream" },
  },
];

describe("an open proxy (no clientKeys)", () => {
  for (const route of CLIENT_ROUTES) {
    test(`${route.name} needs no key, and any Authorization is ignored`, async () => {
      for (const authorization of [null, "Bearer ", "Bearer anything-at-all"]) {
        const response = await call(open, route.path, { method: route.method, body: route.body?.(), headers: route.headers, authorization });
        await response.arrayBuffer();
        expect({ route: route.name, authorization, status: response.status }).toEqual({ route: route.name, authorization, status: 200 });
      }
    });
  }

  test("/models lists every model", async () => {
    const body = await (await call(open, "/v1/models")).json();
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(ALL_MODELS);
  });
});

describe("the CLI's start-up warning", () => {
  async function startupLines(config: unknown) {
    const dir = (await import("../support/proxy")).makeTempDir("hardening-cli");
    const path = `${dir}/config.json`;
    writeFileSync(path, JSON.stringify(config));
    const cli = spawnCli(["--config", path, "--port", "0", "--host", "127.0.0.1"], { [LIMITED_ENV]: LIMITED_KEY });
    try {
      await cli.ready();
      cli.kill("SIGTERM");
      expect(await cli.exitCode(10_000)).toBe(0);
      return cli.stderr;
    } finally {
      cli.kill();
    }
  }

  test("without clientKeys the proxy says it is open; with them it does not", async () => {
    const [openLog, keyedLog] = await Promise.all([startupLines({ endpoints: endpoints() }), startupLines(keyedConfig())]);
    expect(openLog).toMatch(/WARN .*no clientKeys configured/);
    expect(keyedLog).not.toMatch(/no clientKeys/);
    expect(keyedLog).toMatch(/listening on 127\.0\.0\.1:\d+/);
  });
});

describe("client keys", () => {
  const BAD_AUTHORIZATIONS: [string, string | null][] = [
    ["no Authorization header", null],
    ["a wrong key", bearer("ck-not-a-configured-key-0000000000")],
    ["an empty bearer token", "Bearer "],
    ["the scheme alone", "Bearer"],
    ["only spaces after the scheme", "Bearer      "],
    ["the key without a scheme", FULL_KEY],
    ["the key glued to the scheme", `Bearer${FULL_KEY}`],
    ["Basic credentials holding the key", `Basic ${Buffer.from(`user:${FULL_KEY}`).toString("base64")}`],
    ["another scheme with the key", `Token ${FULL_KEY}`],
    ["the key plus one character", bearer(FULL_KEY + "x")],
    ["the key minus its last character", bearer(FULL_KEY.slice(0, -1))],
    ["the key twice", `${bearer(FULL_KEY)}, ${bearer(FULL_KEY)}`],
    ["the literal ${ENV} reference instead of its value", bearer(`\${${LIMITED_ENV}}`)],
    ["the admin key (not a client key)", bearer(ADMIN_KEY)],
    ["a backend's key", bearer(ALPHA_KEY)],
  ];

  for (const route of CLIENT_ROUTES) {
    test(`${route.name}: 401 for every missing, wrong or malformed key; nothing reaches a backend`, async () => {
      for (const [what, authorization] of BAD_AUTHORIZATIONS) {
        const response = await call(keyed, route.path, { method: route.method, body: route.body?.(), headers: route.headers, authorization });
        const error = await expectOpenAIError(response, 401, { type: "authentication_error", code: "invalid_api_key" }).catch((e) => {
          throw new Error(`${route.name} with ${what}: ${(e as Error).message}`);
        });
        const sent = authorization?.slice(7, 20) ?? "";
        if (sent.trim().length >= 6) expect(error.message).not.toContain(sent);
      }
      expect(backendRequests()).toBe(0);
    });

    test(`${route.name}: 200 with a valid key`, async () => {
      const response = await call(keyed, route.path, { method: route.method, body: route.body?.(), headers: route.headers, authorization: bearer(FULL_KEY) });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
    });
  }

  test("the client's key never reaches a backend, whichever header carried it; the backend's key is sent instead", async () => {
    const carriers: Record<string, string>[] = [{ authorization: bearer(FULL_KEY) }, { "api-key": FULL_KEY }, { "x-api-key": FULL_KEY }];
    for (const headers of carriers) {
      await (await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("gpt"), headers })).text();
      expect(alpha.last.headers.get("authorization")).toBe(bearer(ALPHA_KEY));
      expect([...alpha.last.headers].join("\n")).not.toContain(FULL_KEY);
      expect(alpha.last.json().model).toBe("backend-gpt");
    }
  });

  /** Azure OpenAI SDKs send the bare key in `api-key`, Anthropic-style SDKs in `x-api-key`. */
  const BARE_KEY_HEADERS = ["api-key", "x-api-key"];
  const BAD_BARE_KEYS: [string, string][] = [
    ["a wrong key", "ck-not-a-configured-key-0000000000"],
    ["only spaces", "     "],
    ["the key with a Bearer scheme", bearer(FULL_KEY)],
    ["the key plus one character", FULL_KEY + "x"],
    ["the key minus its last character", FULL_KEY.slice(0, -1)],
    ["the key twice", `${FULL_KEY}, ${FULL_KEY}`],
    ["the admin key (not a client key)", ADMIN_KEY],
    ["a backend's key", ALPHA_KEY],
  ];

  for (const header of BARE_KEY_HEADERS) {
    for (const route of CLIENT_ROUTES) {
      test(`${route.name} with the key in ${header}: 200 for a valid key, 401 for a wrong one; nothing wrong reaches a backend`, async () => {
        for (const [what, value] of BAD_BARE_KEYS) {
          const response = await call(keyed, route.path, { method: route.method, body: route.body?.(), headers: { ...route.headers, [header]: value } });
          const error = await expectOpenAIError(response, 401, { type: "authentication_error", code: "invalid_api_key" }).catch((e) => {
            throw new Error(`${route.name} with ${what} in ${header}: ${(e as Error).message}`);
          });
          if (value.trim().length >= 6) expect(error.message).not.toContain(value.trim().slice(0, 13));
        }
        expect(backendRequests()).toBe(0);
        const response = await call(keyed, route.path, { method: route.method, body: route.body?.(), headers: { ...route.headers, [header]: FULL_KEY } });
        await response.arrayBuffer();
        expect(response.status).toBe(200);
      });
    }

    test(`a limited key in ${header} sees only its models and gets 403 for the others`, async () => {
      const models = await (await call(keyed, "/v1/models", { headers: { [header]: LIMITED_KEY } })).json();
      expect(models.data.map((m: { id: string }) => m.id)).toEqual(["gpt", "embed"]);
      const response = await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("llama"), headers: { [header]: LIMITED_KEY } });
      await expectOpenAIError(response, 403, { type: "permission_error", code: "model_not_allowed" });
      expect(backendRequests()).toBe(0);
    });
  }

  test("the bearer scheme is matched case-insensitively (RFC 9110 §11.1)", async () => {
    const response = await call(keyed, "/v1/models", { authorization: `bearer ${FULL_KEY}` });
    expect(response.status).toBe(200);
  });

  test("a missing key and a wrong key get different messages, neither echoing what was sent", async () => {
    const missing = await expectOpenAIError(await call(keyed, "/v1/models"), 401);
    const wrong = await expectOpenAIError(await call(keyed, "/v1/models", { authorization: bearer("ck-wrong-key-abcdefghijklmnop") }), 401);
    expect(missing.message).not.toBe(wrong.message);
    expect(wrong.message).not.toContain("ck-wrong");
  });

  test("a body refused for its shape or size is refused with the 401 first when the key is missing or wrong (chat and Messages)", async () => {
    for (const path of ["/v1/chat/completions", "/v1/messages"]) {
      for (const body of ["{not json", "[1, 2]", JSON.stringify({ model: "gpt", pad: "x".repeat(70 * 1024) })]) {
        for (const authorization of [null, bearer("ck-wrong-key-abcdefghijklmnop")]) {
          const response = await call(keyed, path, { method: "POST", body, authorization, headers: { "content-type": "application/json" } });
          expect(response.status).toBe(401);
          await response.text();
        }
        // With the key, the body's own refusal.
        const allowed = await call(keyed, path, { method: "POST", body, authorization: bearer(FULL_KEY), headers: { "content-type": "application/json" } });
        expect([400, 413]).toContain(allowed.status);
        await allowed.text();
      }
    }
  });

  test("/models lists only the models a key may use (the limited key comes from ${ENV})", async () => {
    const full = await (await call(keyed, "/v1/models", { authorization: bearer(FULL_KEY) })).json();
    expect(full.data.map((m: { id: string }) => m.id)).toEqual(ALL_MODELS);
    for (const path of ["/models", "/v1/models"]) {
      const limited = await (await call(keyed, path, { authorization: bearer(LIMITED_KEY) })).json();
      expect(limited.object).toBe("list");
      expect(limited.data.map((m: { id: string }) => m.id)).toEqual(["gpt", "embed"]);
    }
  });

  const FORBIDDEN: { name: string; path: string; method?: string; body?: () => unknown; headers?: Record<string, string> }[] = [
    { name: "GET /models/llama", path: "/models/llama" },
    { name: "GET /v1/models/org/model-x", path: "/v1/models/org/model-x" },
    { name: "GET /v1/models/org%2Fmodel-x", path: "/v1/models/org%2Fmodel-x" },
    { name: "chat", path: "/v1/chat/completions", method: "POST", body: () => chat("llama") },
    { name: "streamed chat", path: "/chat/completions", method: "POST", body: () => chat("org/model-x", { stream: true }) },
    { name: "passthrough, JSON body model", path: "/v1/embeddings", method: "POST", body: () => ({ model: "llama", input: "x" }) },
    { name: "passthrough, query model", path: "/v1/files?model=llama", method: "GET" },
    {
      name: "passthrough, x-model-id",
      path: "/v1/audio/speech",
      method: "POST",
      body: () => "x",
      headers: { "x-model-id": "llama", "content-type": "application/octet-stream" },
    },
    {
      name: "passthrough, multipart form model",
      path: "/v1/audio/transcriptions",
      method: "POST",
      body: () => {
        const form = new FormData();
        form.set("model", "llama");
        form.set("file", new Blob(["RIFF...."], { type: "audio/wav" }), "a.wav");
        return form;
      },
    },
  ];
  for (const route of FORBIDDEN) {
    test(`403 for a model the key may not use: ${route.name}`, async () => {
      const response = await call(keyed, route.path, {
        method: route.method,
        body: route.body?.(),
        headers: route.headers,
        authorization: bearer(LIMITED_KEY),
      });
      await expectOpenAIError(response, 403, { type: "permission_error", code: "model_not_allowed" });
      expect(backendRequests()).toBe(0);
    });
  }

  test("those refusals are counted under the model refused, not as an unknown model", async () => {
    const metrics = await (await call(keyed, "/metrics", { authorization: bearer(ADMIN_KEY) })).text();
    expect(metrics).toMatch(/cm_proxy_requests_total\{model="llama",target="none",code="403"\} [1-9]/);
    expect(metrics).not.toMatch(/cm_proxy_requests_total\{model="unknown",target="none",code="403"\}/);
  });

  test("the same routes work for the limited key's own models", async () => {
    const one = await call(keyed, "/v1/models/gpt", { authorization: bearer(LIMITED_KEY) });
    expect((await one.json()).id).toBe("gpt");
    const completion = await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("gpt"), authorization: bearer(LIMITED_KEY) });
    expect(completion.status).toBe(200);
    expect((await completion.json()).model).toBe("backend-gpt");
    const embedding = await call(keyed, "/v1/embeddings", { method: "POST", body: { model: "embed", input: "x" }, authorization: bearer(LIMITED_KEY) });
    expect(embedding.status).toBe(200);
    await embedding.text();
  });

  test("an unknown model is a 404 that lists only the models this key may see", async () => {
    const response = await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("nope"), authorization: bearer(LIMITED_KEY) });
    const error = await expectOpenAIError(response, 404, { code: "model_not_found" });
    expect(error.message).toContain("gpt");
    expect(error.message).not.toContain("llama");
    expect(error.message).not.toContain("org/model-x");
  });

  test("a `${NAME:-fallback}` reference (documented in the README) uses the fallback when NAME is unset", async () => {
    delete process.env.HARDENING_ACCESS_UNSET_VARIABLE;
    const config = {
      endpoints: { gpt: { url: alpha.url, apiKey: ALPHA_KEY } },
      clientKeys: [{ key: `\${HARDENING_ACCESS_UNSET_VARIABLE:-${FALLBACK_KEY}}` }],
    };
    let proxy: ProxyHandle | undefined;
    try {
      proxy = await startProxy(config, { label: "fallback proxy log" });
      const response = await call(proxy, "/v1/models", { authorization: bearer(FALLBACK_KEY) });
      expect(response.status).toBe(200);
      await response.text();
    } catch (error) {
      if (error instanceof ConfigError) recordText("fallback ConfigError", error.message);
      throw error;
    } finally {
      await proxy?.stop();
    }
  });
});

describe("admin routes", () => {
  const ADMIN_ROUTES = [
    ["GET", "/debug"],
    ["GET", "/v1/debug"],
    ["POST", "/reload"],
    ["POST", "/v1/reload"],
  ] as const;

  for (const [method, path] of ADMIN_ROUTES) {
    test(`${method} ${path} with an admin key configured: 401 without it (even from loopback), 200 with it`, async () => {
      for (const authorization of [
        null,
        bearer(FULL_KEY),
        bearer(LIMITED_KEY),
        bearer("ak-wrong-0000000000000000"),
        "Bearer ",
        ADMIN_KEY,
        bearer(ADMIN_KEY.slice(0, -1)),
      ]) {
        const response = await call(keyed, path, { method, authorization });
        await expectOpenAIError(response, 401, { type: "authentication_error", code: "invalid_admin_key" });
      }
      const response = await call(keyed, path, { method, authorization: bearer(ADMIN_KEY) });
      expect(response.status).toBe(200);
      await response.text();
    });
  }

  test("/health and /v1/health are open, with or without any key", async () => {
    for (const proxy of [keyed, open]) {
      for (const path of ["/health", "/v1/health"]) {
        for (const authorization of [null, bearer("garbage-key-0000000000000")]) {
          const response = await call(proxy, path, { authorization });
          expect(response.status).toBe(200);
          expect((await response.json()).status).toBe("ok");
        }
      }
    }
  });

  test("/debug shows every configured secret masked, never in full", async () => {
    const text = await (await call(keyed, "/debug", { authorization: bearer(ADMIN_KEY) })).text();
    const view = JSON.parse(text);
    expect(view.endpoints.gpt.apiKey).toBe(maskBackendKey(ALPHA_KEY));
    expect(view.endpoints.dead.apiKey).toBe(maskBackendKey(DEAD_KEY));
    expect(view.clientKeys.map((c: { key: string }) => c.key)).toEqual([maskAccessKey(FULL_KEY), maskAccessKey(LIMITED_KEY)]);
    expect(view.adminKey).toBe(maskAccessKey(ADMIN_KEY));
    for (const secret of [ALPHA_KEY, BRAVO_KEY, DEAD_KEY, HANG_KEY, FULL_KEY, LIMITED_KEY, ADMIN_KEY]) expect(text).not.toContain(secret);
  });

  test("CM_OPEN_WEBUI_PROXY_ADMIN_KEY is the admin key when the config has none", async () => {
    process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY = ENV_ADMIN_KEY;
    const proxy = await startProxy({ endpoints: endpoints() }, { label: "env-admin proxy log" });
    try {
      for (const [method, path] of ADMIN_ROUTES) {
        await expectOpenAIError(await call(proxy, path, { method }), 401, { code: "invalid_admin_key" });
        await expectOpenAIError(await call(proxy, path, { method, authorization: bearer(ADMIN_KEY) }), 401, { code: "invalid_admin_key" });
        const ok = await call(proxy, path, { method, authorization: bearer(ENV_ADMIN_KEY) });
        expect(ok.status).toBe(200);
        const text = await ok.text();
        expect(text).not.toContain(ENV_ADMIN_KEY);
      }
      const view = await (await call(proxy, "/debug", { authorization: bearer(ENV_ADMIN_KEY) })).json();
      expect(JSON.stringify(view)).not.toContain(ENV_ADMIN_KEY);
    } finally {
      delete process.env.CM_OPEN_WEBUI_PROXY_ADMIN_KEY;
      await proxy.stop();
    }
  });

  test("without an admin key, loopback clients may use /debug and /reload without any key", async () => {
    for (const [method, path] of ADMIN_ROUTES) {
      const response = await call(open, path, { method });
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      await response.text();
    }
  });

  test("without an admin key, a loopback request a browser sent for another site is a 403: another origin, or a name made to resolve to 127.0.0.1 (DNS rebinding)", async () => {
    const port = open.server.port;
    const refused: Record<string, string>[] = [
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { origin: "http://localhost:9" },
      { host: `rebound.example:${port}`, "sec-fetch-site": "same-origin" },
      { host: `rebound.example:${port}` },
    ];
    for (const headers of refused) {
      const response = await call(open, "/debug", { headers });
      expect({ headers, status: response.status }).toEqual({ headers, status: 403 });
      await response.text();
    }
    // The proxy's own page (same origin, a loopback name), a typed-in address, and an older browser's matching Origin pass.
    const passed: Record<string, string>[] = [
      { "sec-fetch-site": "same-origin" },
      { "sec-fetch-site": "none" },
      { host: `localhost:${port}`, origin: `http://localhost:${port}` },
    ];
    for (const headers of passed) {
      const response = await call(open, "/debug", { headers });
      expect({ headers, status: response.status }).toEqual({ headers, status: 200 });
      await response.text();
    }
  });

  test("a caller without access to the key API is refused before its body is read: no 400 about it, no wait for it", async () => {
    // With the admin key configured (401), and without one for a request that is not the machine's own (403).
    const cases = [
      { proxy: keyed, host: "127.0.0.1", status: 401, code: "invalid_admin_key" },
      { proxy: open, host: "rebound.example", status: 403, code: "admin_local_only" },
    ];
    for (const { proxy, host, status, code } of cases) {
      for (const [method, path] of [
        ["POST", "/admin/keys"],
        ["PATCH", "/v1/admin/keys/key_0123456789abcdef"],
        ["POST", "/admin/keys/key_0123456789abcdef/rotate"],
      ] as const) {
        const malformed = await call(proxy, path, { method, body: "{not json", headers: { host, "content-type": "application/json" } });
        await expectOpenAIError(malformed, status, { code });
        // A body announced at 1 GB of which a few bytes come: the answer must not wait for (and hold) the rest.
        const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"name":"x"`;
        const partial = await rawRequest(proxy.server.port, head, 3000, `${method} ${path} with a body that never ends`);
        expect({ path, status: partial.status }).toEqual({ path, status });
      }
    }
  });

  // A non-loopback client can only be made by binding the proxy to one of this machine's own
  // non-loopback addresses and connecting to it (the kernel keeps that traffic on this host).
  const ownAddress = Object.values(networkInterfaces())
    .flat()
    .find((info) => info && info.family === "IPv4" && !info.internal)?.address;

  test.skipIf(ownAddress === undefined)(
    `without an admin key, a non-loopback client (this machine's own ${ownAddress ?? "(none)"}) gets 403 from /debug and /reload; /health and the models stay open`,
    async () => {
      const proxy = await startProxy({ endpoints: endpoints() }, { hostname: ownAddress!, label: "non-loopback proxy log" });
      try {
        expect(proxy.url("")).toBe(`http://${ownAddress}:${proxy.server.port}`);
        for (const [method, path] of ADMIN_ROUTES) {
          await expectOpenAIError(await call(proxy, path, { method }), 403, { type: "permission_error", code: "admin_local_only" });
        }
        expect((await call(proxy, "/health")).status).toBe(200);
        expect((await call(proxy, "/v1/models")).status).toBe(200);
      } finally {
        await proxy.stop();
      }
    },
  );

  describe("authorizeAdmin (unit)", () => {
    const denied = (admin: Uint8Array | null, headers: Record<string, string>, address: string | undefined) => {
      try {
        authorizeAdmin(admin, new Headers(headers), address);
        return null;
      } catch (error) {
        expect(error).toBeInstanceOf(ProxyError);
        return (error as ProxyError).status;
      }
    };

    test("no admin key: only loopback addresses pass", () => {
      for (const address of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
        expect({ address, status: denied(null, {}, address) }).toEqual({ address, status: null });
      for (const address of [
        undefined,
        "",
        "192.0.2.2",
        "10.0.0.1",
        "0.0.0.0",
        "::",
        "::ffff:10.1.2.3",
        "fe80::1",
        "fd00::2",
        "::2",
        "128.0.0.1",
        "1.127.0.0",
      ]) {
        expect({ address, status: denied(null, {}, address) }).toEqual({ address, status: 403 });
      }
    });

    test("with an admin key: only the key passes, from any address, loopback included", () => {
      const admin = digest(ADMIN_KEY);
      for (const address of ["127.0.0.1", "::1", "192.0.2.2", undefined]) {
        expect(denied(admin, {}, address)).toBe(401);
        expect(denied(admin, { authorization: bearer(FULL_KEY) }, address)).toBe(401);
        expect(denied(admin, { authorization: bearer(ADMIN_KEY) }, address)).toBeNull();
      }
    });
  });
});

describe("secrets never leak", () => {
  // The 502 and 504 themselves (OpenAI's shape, the model named, never the key) are
  // hardening/timeouts.test.ts's; here they are among the "other responses" below, made with keys
  // in every header, for the transcript's secret check.
  test("a rejected reload reports the validation message without the file's secrets; the running config stays", async () => {
    const good = await Bun.file(keyed.configPath).text();
    const broken: { name: string; text: string; expect: string }[] = [
      {
        name: "wrong types next to secrets",
        text: JSON.stringify({ ...keyedConfig(), endpoints: { ...endpoints(), gpt: { url: ALPHA_KEY, apiKey: ALPHA_KEY } }, maxBodyBytes: FULL_KEY }),
        expect: "endpoints.gpt.url",
      },
      { name: "an unquoted secret", text: `{"endpoints": {"gpt": {"url": "http://127.0.0.1:1", "apiKey": ${ALPHA_KEY}}}}`, expect: "not valid JSON" },
      { name: "a truncated file", text: JSON.stringify(keyedConfig()).slice(0, 400), expect: "not valid JSON" },
      {
        name: "a key seen nowhere else, next to a wrong field",
        text: JSON.stringify({ ...keyedConfig(), endpoints: { ...endpoints(), llama: { ...endpoints().llama, displayName: 7, apiKey: NEW_FILE_KEY } } }),
        expect: "endpoints.llama.displayName: expected a string",
      },
      {
        name: "a secret as a model id in clientKeys",
        text: JSON.stringify({ ...keyedConfig(), clientKeys: [{ key: FULL_KEY }, { key: FULL_KEY }] }),
        expect: "listed twice",
      },
      { name: "a missing variable", text: JSON.stringify({ ...keyedConfig(), adminKey: "${HARDENING_ACCESS_NOT_SET}" }), expect: "HARDENING_ACCESS_NOT_SET" },
    ];
    try {
      for (const bad of broken) {
        writeFileSync(keyed.configPath, bad.text);
        const response = await call(keyed, "/reload", { method: "POST", authorization: bearer(ADMIN_KEY) });
        const error = await expectOpenAIError(response, 400, { code: "invalid_config", messageIncludes: [bad.expect] });
        expect(error.message).toContain(keyed.configPath);
        for (const secret of [ALPHA_KEY, FULL_KEY, ADMIN_KEY, NEW_FILE_KEY]) {
          expect({ case: bad.name, secret, leaked: JSON.stringify(error).includes(secret) || keyed.log.text.includes(secret) }).toEqual({
            case: bad.name,
            secret,
            leaked: false,
          });
        }
        // the running config is untouched: the same key still works and the same models are listed
        const models = await (await call(keyed, "/v1/models", { authorization: bearer(FULL_KEY) })).json();
        expect(models.data.map((m: { id: string }) => m.id)).toEqual(ALL_MODELS);
      }
      expect(keyed.log.text).toMatch(/reload \(POST \/reload\) rejected/);
    } finally {
      writeFileSync(keyed.configPath, good);
    }
    const reloaded = await call(keyed, "/reload", { method: "POST", authorization: bearer(ADMIN_KEY) });
    expect(reloaded.status).toBe(200);
    await reloaded.text();
  });

  test("a config that cannot start reports its problems without its secrets", async () => {
    const config = { ...keyedConfig(), endpoints: { gpt: { url: `ftp://${ALPHA_KEY}`, apiKey: 5 } }, adminKey: "" };
    try {
      await startProxy(config, { label: "refused proxy log" });
      throw new Error("an invalid config started");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      recordText("ConfigError at start", (error as Error).message);
      expect((error as Error).message).toContain("endpoints.gpt.url");
    }
  });

  test("other responses: errors, unknown routes, docs, health, models, with keys in every header a client may use", async () => {
    const paths = ["/health", "/v1/health", "/swagger/json", "/nope", "/v1/models/nope", "/debug", "/v1/chat/completions"];
    const sent: Record<string, string>[] = [{}];
    for (const key of [FULL_KEY, LIMITED_KEY, ADMIN_KEY]) sent.push({ authorization: bearer(key) }, { "api-key": key }, { "x-api-key": key });
    for (const path of paths) {
      for (const headers of sent) {
        await (await call(keyed, path, { headers })).text();
        await (await call(open, path, { headers })).text();
      }
    }
    for (const headers of sent.slice(1, 4)) {
      await (
        await call(keyed, "/v1/chat/completions", { method: "POST", body: "{not json", headers: { ...headers, "content-type": "application/json" } })
      ).text();
      await (await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("gpt", { stream: "yes" }), headers })).text();
      await expectOpenAIError(await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("dead"), headers }), 502, { code: "backend_unreachable" });
      await expectOpenAIError(await call(keyed, "/v1/chat/completions", { method: "POST", body: chat("hang"), headers }), 504, { code: "backend_timeout" });
    }
  });

  test("no configured secret appears in any response or log line recorded so far", () => {
    expect(keyed.log.lines.length).toBeGreaterThan(0);
    expectNoSecretLeaks(100);
  });
});
