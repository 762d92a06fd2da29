// Open WebUI's signed user end to end: with openWebUI.userJwtSecret, the user of usage rows, of the
// access log and of per-user limits comes only from a valid X-OpenWebUI-User-Jwt (tokens signed in
// test/support with node:crypto, as Open WebUI's PyJWT writes them); forged plain headers name
// nobody; requireUser turns a missing or bad token into a 401 on model requests but not on /models;
// the token reaches no backend (not even with forwardUserInfoHeaders) and no log line, and /debug
// masks the secret. Real SQLite rows.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config/load";
import { chatBody, expectOpenAIError, postJson, readBody } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { openWebUIClaims, signToken } from "./support/openwebui-jwt";
import { BUN, CLI_ENTRY, cleanEnv, runToExit } from "./support/process";
import { endpointFor, makeTempDir, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";
import { expectNoSecretLeaks, registerSecret } from "./support/transcript";

const SECRET = registerSecret("owui-forward-jwt-secret-7d3f9a1c5e8b2046-shared", "openWebUI.userJwtSecret");
const ADMIN_KEY = registerSecret("ak-owui-jwt-admin-5c1e7a9b3d2f", "admin key");
const KEY_A = registerSecret("ck-owui-jwt-client-a-0f2e4d6c8b", "client key A");
const KEY_B = registerSecret("ck-owui-jwt-client-b-1a3c5e7f9d", "client key B");
const JWT = "x-openwebui-user-jwt";

const now = () => Math.floor(Date.now() / 1000);
/** A token for `id` as Open WebUI sends it, registered so that no log or answer may show it. */
function tokenFor(id: string, options: { secret?: string; issuedAgo?: number; lifetime?: number } = {}): string {
  const claims = openWebUIClaims({ id, email: `${id}@example.com`, name: `Name ${id}` }, now() - (options.issuedAgo ?? 0), options.lifetime);
  return registerSecret(signToken(claims, options.secret ?? SECRET), `user token of ${id}`);
}
const forged = (id: string) => ({ "x-openwebui-user-id": id, "x-openwebui-user-email": `${id}@forged.example`, "x-openwebui-user-name": "Forged" });
const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

let alpha: MockBackend;
beforeAll(() => {
  alpha = startMock("owui-jwt");
});
beforeEach(() => alpha.reset());
afterAll(async () => {
  await alpha.stop();
  removeTempDirs();
});

const jwtConfig = (openWebUI: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  endpoints: { gpt: endpointFor(alpha, { actualModelName: "backend-gpt" }), embed: endpointFor(alpha, { actualModelName: "backend-embed" }) },
  clientKeys: [
    { key: KEY_A, name: "a" },
    { key: KEY_B, name: "b" },
  ],
  adminKey: ADMIN_KEY,
  openWebUI,
  ...top,
});

/** The access-log entry of `response`'s request, once it has ended. */
async function accessEntry(proxy: ProxyHandle, response: Response): Promise<Record<string, unknown>> {
  const id = response.headers.get("x-request-id")!;
  let line: string | undefined;
  await proxy.log.until(() => (line = proxy.log.accessLines.find((l) => l.includes(`"requestId":"${id}"`))) !== undefined, 5000, `access line ${id}`);
  return JSON.parse(line!);
}

/** The usage row of `response`'s request. */
async function rowOf(proxy: ProxyHandle, response: Response): Promise<Record<string, unknown>> {
  const id = (await accessEntry(proxy, response)).requestId;
  await proxy.server.usage!.flush();
  const db = new Database(join(proxy.dir, "usage.db"), { readonly: true });
  try {
    const rows = db.query("SELECT user_id, user_email, user_name, client FROM usage WHERE request_id = ?").all(id as string);
    expect(rows).toHaveLength(1);
    return rows[0] as Record<string, unknown>;
  } finally {
    db.close();
  }
}

async function chat(proxy: ProxyHandle, headers: Record<string, string>, key = KEY_A): Promise<Response> {
  const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(key, headers));
  await response.arrayBuffer();
  return response;
}

const NO_USER = { user_id: null, user_email: null, user_name: null };

describe("openWebUI.userJwtSecret: the user comes only from a valid token", () => {
  let proxy: ProxyHandle;
  beforeAll(async () => {
    proxy = await startProxy(jwtConfig({ userJwtSecret: SECRET }, { log: { format: "json" }, limits: { perUser: { rpm: 2 } }, forwardUserInfoHeaders: true }));
  });
  afterAll(() => proxy.stop());

  test("a valid token's user lands in the usage row and the access log; the backend never receives the token, even with forwardUserInfoHeaders", async () => {
    const token = tokenFor("u-ann");
    const response = await chat(proxy, { [JWT]: token, "x-openwebui-chat-id": "chat-1" });
    expect(response.status).toBe(200);
    expect(await rowOf(proxy, response)).toEqual({ user_id: "u-ann", user_email: "u-ann@example.com", user_name: "Name u-ann", client: "a" });
    expect((await accessEntry(proxy, response)).user).toBe("u-ann");
    expect(alpha.last.headers.get(JWT)).toBeNull();
    expect(alpha.last.headers.get("x-openwebui-chat-id")).toBe("chat-1");
  });

  test("a streamed chat and a passthrough request name the token's user too", async () => {
    alpha.willReply(reply.sse(['data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', "data: [DONE]\n\n"]));
    const stream = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), as(KEY_A, { [JWT]: tokenFor("u-stream") }));
    await readBody(stream);
    expect((await rowOf(proxy, stream)).user_id).toBe("u-stream");
    const embedding = await postJson(proxy.url("/v1/embeddings"), { model: "embed", input: "x" }, as(KEY_A, { [JWT]: tokenFor("u-embed") }));
    await embedding.arrayBuffer();
    expect(embedding.status).toBe(200);
    expect((await rowOf(proxy, embedding)).user_id).toBe("u-embed");
    expect(alpha.last.headers.get(JWT)).toBeNull();
  });

  test("forged plain headers are ignored: beside a valid token, and alone; they never reach the backend, while the chat id does", async () => {
    const both = await chat(proxy, { [JWT]: tokenFor("u-real"), ...forged("u-admin"), "x-openwebui-chat-id": "chat-2" });
    expect(await rowOf(proxy, both)).toMatchObject({ user_id: "u-real", user_email: "u-real@example.com", user_name: "Name u-real" });
    for (const name of Object.keys(forged("u-admin"))) expect(alpha.last.headers.get(name)).toBeNull();
    expect(alpha.last.headers.get("x-openwebui-chat-id")).toBe("chat-2");
    const alone = await chat(proxy, forged("u-admin"));
    expect(alone.status).toBe(200);
    expect(await rowOf(proxy, alone)).toMatchObject(NO_USER);
    expect((await accessEntry(proxy, alone)).user).toBeNull();
  });

  test("an expired token, one signed with another secret, or one with another issuer names no user", async () => {
    const expired = await chat(proxy, { [JWT]: tokenFor("u-late", { issuedAgo: 400, lifetime: 300 }) });
    const wrongSecret = await chat(proxy, { [JWT]: tokenFor("u-wrong", { secret: `${SECRET}-other` }) });
    const otherIssuer = registerSecret(signToken({ ...openWebUIClaims({ id: "u-iss" }), iss: "not-open-webui" }, SECRET), "token of another issuer");
    const issuer = await chat(proxy, { [JWT]: otherIssuer });
    for (const response of [expired, wrongSecret, issuer]) {
      expect(response.status).toBe(200);
      expect(await rowOf(proxy, response)).toMatchObject(NO_USER);
    }
  });

  test("a token that expired less than 30 s ago still names its user (clock skew)", async () => {
    const response = await chat(proxy, { [JWT]: tokenFor("u-skew", { issuedAgo: 310, lifetime: 300 }) });
    expect((await rowOf(proxy, response)).user_id).toBe("u-skew");
  });

  test("per-user limits follow the token's sub across client keys; forged headers do not make a user", async () => {
    const token = tokenFor("u-limited");
    expect((await chat(proxy, { [JWT]: token }, KEY_A)).status).toBe(200);
    expect((await chat(proxy, { [JWT]: tokenFor("u-limited") }, KEY_B)).status).toBe(200);
    const refused = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(KEY_B, { [JWT]: token }));
    await expectOpenAIError(refused, 429, { messageIncludes: ["your user"] });
    // The same id in plain headers is no user at all, so no per-user limit holds it back.
    for (let i = 0; i < 3; i++) expect((await chat(proxy, forged("u-limited"))).status).toBe(200);
    expect((await chat(proxy, { [JWT]: tokenFor("u-other") })).status).toBe(200);
  });

  test("no log line holds a token, and /debug masks the secret", async () => {
    const token = tokenFor("u-logged");
    await chat(proxy, { [JWT]: token });
    const debug = await (await fetch(proxy.url("/debug"), { headers: as(ADMIN_KEY) })).json();
    expect(debug.openWebUI.userJwtSecret).not.toContain(SECRET.slice(8, -8));
    expect(debug.openWebUI.userJwtSecret).toContain("...");
    const everything = [...proxy.log.accessLines, ...proxy.log.lines].join("\n");
    expect(everything).toContain("u-logged");
    expect(everything).not.toContain(token.split(".")[2]!);
  });
});

describe("openWebUI.requireUser: model requests need a valid token; /models does not", () => {
  let proxy: ProxyHandle;
  beforeAll(async () => {
    proxy = await startProxy(jwtConfig({ userJwtSecret: SECRET, requireUser: true }));
  });
  afterAll(() => proxy.stop());

  test("no token, or only forged plain headers: 401 in OpenAI's shape, and the backend is never asked", async () => {
    for (const headers of [{}, forged("u-admin")]) {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(KEY_A, headers));
      await expectOpenAIError(response, 401, {
        type: "authentication_error",
        code: "invalid_user_token",
        messageIncludes: ["X-OpenWebUI-User-Jwt", "missing"],
      });
    }
    const embedding = await postJson(proxy.url("/v1/embeddings"), { model: "embed", input: "x" }, as(KEY_A));
    await expectOpenAIError(embedding, 401, { code: "invalid_user_token" });
    expect(alpha.requests).toHaveLength(0);
  });

  test("an expired or wrongly signed token: 401 saying it is not valid", async () => {
    for (const token of [tokenFor("u-late", { issuedAgo: 400, lifetime: 300 }), tokenFor("u-wrong", { secret: `${SECRET}-other` })]) {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(KEY_A, { [JWT]: token }));
      const error = await expectOpenAIError(response, 401, { code: "invalid_user_token", messageIncludes: ["not valid"] });
      expect(error.message).not.toContain(token);
    }
    expect(alpha.requests).toHaveLength(0);
  });

  test("a valid token: served", async () => {
    const response = await chat(proxy, { [JWT]: tokenFor("u-ok") });
    expect(response.status).toBe(200);
    expect(alpha.requests).toHaveLength(1);
  });

  test("the Messages API refuses in Anthropic's shape", async () => {
    const response = await postJson(proxy.url("/v1/messages"), { model: "gpt", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] }, as(KEY_A));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });

  test("/v1/models and /v1/models/{id} answer without a user; a wrong client key is still a 401 of its own", async () => {
    for (const path of ["/v1/models", "/models", "/v1/models/gpt"]) {
      const response = await fetch(proxy.url(path), { headers: as(KEY_A) });
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
    }
    const wrongKey = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as("ck-not-a-configured-key-0000"));
    await expectOpenAIError(wrongKey, 401, { code: "invalid_api_key" });
  });
});

describe("openWebUI settings: checked when the config loads", () => {
  const write = (openWebUI: Record<string, unknown>) => writeConfig(join(makeTempDir("owui-jwt-config"), "config.json"), jwtConfig(openWebUI));

  test("requireUser without a secret is refused; --check-config says why", async () => {
    const path = write({ requireUser: true });
    await expect(loadConfig(path, {})).rejects.toThrow(ConfigError);
    await expect(loadConfig(path, {})).rejects.toThrow("openWebUI.requireUser: needs openWebUI.userJwtSecret");
    const { code, stderr } = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", path], { cwd: makeTempDir("owui-jwt-cli"), env: cleanEnv() });
    expect(code).toBe(1);
    expect(stderr).toContain("openWebUI.requireUser: needs openWebUI.userJwtSecret");
  });

  test("a short secret loads with a warning that never shows it; a long one, from ${ENV}, without", async () => {
    const short = registerSecret("short-jwt-secret-0123", "a short userJwtSecret");
    const path = write({ userJwtSecret: short });
    const config = await loadConfig(path, {});
    expect(config.warnings).toEqual([expect.stringContaining("openWebUI.userJwtSecret: 21 characters; use at least 32")]);
    const { code, stderr } = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", path], { cwd: makeTempDir("owui-jwt-cli"), env: cleanEnv() });
    expect(code).toBe(0);
    expect(stderr).toContain("openWebUI.userJwtSecret: 21 characters");
    expect(stderr).not.toContain(short);

    const fromEnv = await loadConfig(write({ userJwtSecret: "${OPENWEBUI_JWT_SECRET}", requireUser: true }), { OPENWEBUI_JWT_SECRET: SECRET });
    expect(fromEnv.warnings).toEqual([]);
    expect(fromEnv.openWebUI.requireUser).toBe(true);
    expect(fromEnv.openWebUI.userToken?.verify(tokenFor("u-env"))).toEqual({ id: "u-env", email: "u-env@example.com", name: "Name u-env" });
  });

  test("a reload to a short secret is taken, with the warning", async () => {
    const proxy = await startProxy(jwtConfig({ userJwtSecret: SECRET }));
    try {
      writeConfig(proxy.configPath, jwtConfig({ userJwtSecret: registerSecret("short-reload-secret-01", "a short reloaded secret") }));
      expect((await fetch(proxy.url("/reload"), { method: "POST", headers: as(ADMIN_KEY) })).status).toBe(200);
      await proxy.log.line((line) => line.startsWith("WARN") && line.includes("openWebUI.userJwtSecret: 22 characters"), 5000, "the reload's warning");
    } finally {
      await proxy.stop();
    }
  });

  test("no secret or token shows up in any recorded answer or log line", () => {
    expectNoSecretLeaks();
  });
});
