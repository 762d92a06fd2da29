// Client keys issued at runtime (`/admin/keys`) on one instance over its SQLite usage file: the API
// with its errors, a new key through the openai SDK, block/expiry/revocation/rotation as the
// request path sees them, models and limits of an issued key, `/v1/me`, and no secret in the file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { chatBody, expectOpenAIError, postJson } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";
import { within } from "./support/events";
import { expectRevokedKeysStayRevoked, expectRotationsNotToRace } from "./support/key-table-contract";
import { SqliteKeyTable } from "../src/keys/sqlite-keys";

const ADMIN_KEY = "admin-key-for-issued-keys-0123456789";
const CONFIG_KEY = "ck-config-team-0123456789abcdef";
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };

let mock: MockBackend;
let proxy: ProxyHandle;

const completion = {
  id: "chatcmpl-keys",
  object: "chat.completion",
  created: 1,
  model: "backend-gpt",
  choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
};

function config(top: Record<string, unknown> = {}) {
  return {
    endpoints: {
      // 3 prompt and 2 completion tokens an answer: $0.007 a request.
      gpt: { url: mock.url, actualModelName: "backend-gpt", price: { inputPerMTok: 1000, outputPerMTok: 2000 } },
      llama: { url: mock.url, actualModelName: "no-such-model-has-a-price" },
      "ollama/phi": { url: mock.url },
    },
    clientKeys: [{ key: CONFIG_KEY, name: "config-team", models: ["gpt"] }],
    adminKey: ADMIN_KEY,
    ...top,
  };
}

const admin = (path: string, method = "GET", body?: unknown) =>
  fetch(proxy.url(path), {
    method,
    headers: { ...asAdmin, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });

async function create(body: Record<string, unknown>) {
  const response = await admin("/admin/keys", "POST", body);
  expect(response.status).toBe(201);
  return (await response.json()) as Record<string, unknown> & { id: string; key: string; name: string };
}

const chat = (key: string, model = "gpt", to: ProxyHandle = proxy) =>
  postJson(to.url("/v1/chat/completions"), chatBody(model), { authorization: `Bearer ${key}` });

/** Waits, a bounded number of times, until `check` holds. */
async function eventually(check: () => Promise<boolean> | boolean, label: string, ms = 5000) {
  await within(
    (async () => {
      while (!(await check())) await Bun.sleep(25);
    })(),
    ms,
    label,
  );
}

/** Sends chats with `key` (bounded) until one is refused, which it returns: a key that runs out by the clock. */
async function refusedSoon(key: string, label: string): Promise<Response> {
  let last: Response | null = null;
  await eventually(
    async () => {
      last = await chat(key);
      if (last.status === 200) await last.arrayBuffer();
      return last.status !== 200;
    },
    label,
    10_000,
  );
  return last!;
}

beforeAll(async () => {
  mock = startMock("keys");
  mock.willReply(reply.json(completion));
  proxy = await startProxy(config());
});
afterAll(async () => {
  await proxy.stop();
  await mock.stop();
  removeTempDirs();
});

describe("the key API", () => {
  test("POST makes a key: 201 with its secret (sk-cm- and 43 URL-safe characters) shown this once; GET lists it without", async () => {
    const made = await create({ name: "alice", models: ["gpt", "ollama/*"], limits: { rpm: 100 }, metadata: { team: "red" } });
    expect(made.key).toMatch(/^sk-cm-[A-Za-z0-9_-]{43}$/);
    expect(made.id).toMatch(/^key_[0-9a-f]{16}$/);
    expect(made).toMatchObject({
      name: "alice",
      models: ["gpt", "ollama/*"],
      limits: { rpm: 100 },
      metadata: { team: "red" },
      status: "active",
      source: "api",
      expiresAt: null,
      prefix: `${made.key.slice(0, 10)}…`,
    });
    expect(Date.parse(made.createdAt as string)).toBeGreaterThan(Date.now() - 60_000);

    const list = await admin("/admin/keys");
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).not.toContain(made.key);
    expect(text).not.toContain(made.key.slice(10));
    const { data } = JSON.parse(text);
    const listed = data.find((key: { id: string }) => key.id === made.id);
    expect(listed).toMatchObject({ name: "alice", status: "active", source: "api", prefix: made.prefix, lastUsedAt: null });
    expect(listed).not.toHaveProperty("key");
    expect(listed).toHaveProperty("spendTodayUsd");
    expect(listed).toHaveProperty("spendMonthUsd");
    // The config file's key is listed too, read-only.
    expect(data.find((key: { source: string }) => key.source === "config")).toMatchObject({
      id: "config:config-team",
      name: "config-team",
      models: ["gpt"],
      status: "active",
      prefix: null,
    });

    const one = await admin(`/admin/keys/${made.id}`);
    expect(one.status).toBe(200);
    const shown = await one.text();
    expect(shown).not.toContain(made.key);
    expect(JSON.parse(shown)).toMatchObject({ id: made.id, name: "alice" });
  });

  test("a new key works at once through the openai SDK; the config key keeps working; lastUsedAt follows the use", async () => {
    const made = await create({ name: "sdk-user" });
    const client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: made.key, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] });
    expect(answer.choices[0]!.message.content).toBe("hello");
    // The backend never sees the client's key.
    expect(JSON.stringify(mock.requests.at(-1)!.headers)).not.toContain(made.key);
    const models = await client.models.list();
    expect(models.data.map((model) => model.id).sort()).toEqual(["gpt", "llama", "ollama/phi"]);
    expect((await chat(CONFIG_KEY)).status).toBe(200);
    await eventually(async () => {
      const shown = await (await admin(`/admin/keys/${made.id}`)).json();
      return shown.lastUsedAt !== null;
    }, "lastUsedAt written");
  });

  test("an issued key's models restrict it as a config key's do: 403 for another model, /models lists only its own", async () => {
    const made = await create({ name: "gpt-only", models: ["gpt", "ollama/*"] });
    expect((await chat(made.key, "gpt")).status).toBe(200);
    expect((await chat(made.key, "ollama/phi")).status).toBe(200);
    await expectOpenAIError(await chat(made.key, "llama"), 403, { type: "permission_error", code: "model_not_allowed", param: "model" });
    const models = await (await fetch(proxy.url("/v1/models"), { headers: { authorization: `Bearer ${made.key}` } })).json();
    expect(models.data.map((model: { id: string }) => model.id)).toEqual(["gpt", "ollama/phi"]);
  });

  test("with keys issued, the proxy needs a key: none, or a wrong one, is a 401 that echoes nothing", async () => {
    const none = await fetch(proxy.url("/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody("gpt")),
    });
    await expectOpenAIError(none, 401, { type: "authentication_error" });
    const wrong = "sk-cm-not-a-key-that-was-ever-issued-000000000";
    const response = await chat(wrong);
    const text = await response.clone().text();
    expect(text).not.toContain(wrong);
    await expectOpenAIError(response, 401, { code: "invalid_api_key" });
  });

  test("PATCH blocks (401 naming it, no secret echoed) and unblocks; renames; changes models and limits; metadata", async () => {
    const made = await create({ name: "blockable" });
    expect((await chat(made.key)).status).toBe(200);
    const blocked = await admin(`/admin/keys/${made.id}`, "PATCH", { status: "blocked" });
    expect(blocked.status).toBe(200);
    expect(await blocked.json()).toMatchObject({ status: "blocked" });
    const refused = await chat(made.key);
    const text = await refused.clone().text();
    expect(text).not.toContain(made.key);
    await expectOpenAIError(refused, 401, { type: "authentication_error", code: "key_blocked", messageIncludes: ["blocked"] });

    const changed = await admin(`/admin/keys/${made.id}`, "PATCH", { status: "active", name: "renamed", models: ["llama"], metadata: { owner: "ops" } });
    expect(await changed.json()).toMatchObject({ id: made.id, name: "renamed", status: "active", models: ["llama"], metadata: { owner: "ops" } });
    expect((await chat(made.key, "llama")).status).toBe(200);
    expect((await chat(made.key, "gpt")).status).toBe(403);
    const cleared = await admin(`/admin/keys/${made.id}`, "PATCH", { models: null });
    expect(await cleared.json()).toMatchObject({ models: null });
    expect((await chat(made.key, "gpt")).status).toBe(200);
  });

  test("DELETE revokes: 401 'revoked' from then on, the key stays listed as revoked, a second DELETE answers the same; a revoked key cannot be changed", async () => {
    const made = await create({ name: "revocable" });
    expect((await chat(made.key)).status).toBe(200);
    const revoked = await admin(`/admin/keys/${made.id}`, "DELETE");
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: made.id, status: "revoked" });
    await expectOpenAIError(await chat(made.key), 401, { code: "key_revoked", messageIncludes: ["revoked"] });
    const { data } = await (await admin("/admin/keys")).json();
    expect(data.find((key: { id: string }) => key.id === made.id)).toMatchObject({ status: "revoked" });
    expect((await admin(`/admin/keys/${made.id}`, "DELETE")).status).toBe(200);
    await expectOpenAIError(await admin(`/admin/keys/${made.id}`, "PATCH", { status: "active" }), 409, { code: "key_revoked" });
    await expectOpenAIError(await admin(`/admin/keys/${made.id}/rotate`, "POST", {}), 409, { code: "key_revoked" });
    // Its name is free again.
    expect((await admin("/admin/keys", "POST", { name: "revocable" })).status).toBe(201);
  });

  test("expiresAt: the key works until then and is refused from then on (the clock, checked per request), listed as expired", async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const made = await create({ name: "short-lived", expiresAt });
    expect(made.expiresAt).toBe(expiresAt);
    expect((await chat(made.key)).status).toBe(200);
    const last = await refusedSoon(made.key, "the key expired");
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    await expectOpenAIError(last, 401, { code: "key_expired", messageIncludes: ["expired", expiresAt] });
    const shown = await (await admin(`/admin/keys/${made.id}`)).json();
    expect(shown.status).toBe("expired");
  });

  test("rotate: a new secret; the old one is accepted until the grace ends, then refused; without grace at once", async () => {
    const made = await create({ name: "rotating" });
    const response = await admin(`/admin/keys/${made.id}/rotate`, "POST", { graceSeconds: 2 });
    expect(response.status).toBe(200);
    const rotated = await response.json();
    expect(rotated.id).toBe(made.id);
    expect(rotated.key).toMatch(/^sk-cm-[A-Za-z0-9_-]{43}$/);
    expect(rotated.key).not.toBe(made.key);
    expect(Date.parse(rotated.previousKeyValidUntil)).toBeGreaterThan(Date.now());
    expect((await chat(rotated.key)).status).toBe(200);
    expect((await chat(made.key)).status).toBe(200);
    const last = await refusedSoon(made.key, "the grace period over");
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(rotated.previousKeyValidUntil));
    await expectOpenAIError(last, 401, { code: "key_rotated" });
    expect((await chat(rotated.key)).status).toBe(200);

    const again = await (await admin(`/admin/keys/${made.id}/rotate`, "POST")).json();
    expect(again.previousKeyValidUntil).toBeNull();
    await expectOpenAIError(await chat(rotated.key), 401, { code: "invalid_api_key" });
    expect((await chat(again.key)).status).toBe(200);
  });

  test("errors: 400 naming the field, 404 for an unknown id, 409 for a duplicate name (config keys included) or a config-file key", async () => {
    await create({ name: "taken" });
    await expectOpenAIError(await admin("/admin/keys", "POST", {}), 400, { param: "name" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "" }), 400, { param: "name" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "   " }), 400, { param: "name" });
    // PostgreSQL refuses a NUL in text (a 500 there), and a line break would split the lines the name is logged on.
    for (const name of ["nul\u0000name", "two\nlines", "bell\u0007", "lone\ud800half"]) {
      await expectOpenAIError(await admin("/admin/keys", "POST", { name }), 400, { param: "name", code: "invalid_value" });
    }
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", models: "gpt" }), 400, { param: "models" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", limits: { rpm: 0 } }), 400, { param: "limits.rpm" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", limits: { rpn: 5 } }), 400, { param: "limits.rpn" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", expiresAt: "tomorrow" }), 400, { param: "expiresAt" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", expiresAt: "2001-01-01T00:00:00Z" }), 400, { param: "expiresAt" });
    // No 31st of February (it was taken as 3 March), and no date-time without its offset (taken in the server's time zone).
    for (const expiresAt of ["2030-02-31T00:00:00Z", "2030-01-31T00:00:00", "2030-01-31T00:00"]) {
      await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", expiresAt }), 400, { param: "expiresAt", code: "invalid_value" });
    }
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", metadata: { big: "x".repeat(9000) } }), 400, { param: "metadata" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "x", colour: "blue" }), 400, { param: "colour" });
    await expectOpenAIError(await admin("/admin/keys", "POST", "{not json"), 400);
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "taken" }), 409, { code: "key_name_taken", param: "name" });
    await expectOpenAIError(await admin("/admin/keys", "POST", { name: "config-team" }), 409, { code: "key_name_taken" });
    const other = await create({ name: "other" });
    await expectOpenAIError(await admin(`/admin/keys/${other.id}`, "PATCH", { name: "taken" }), 409, { code: "key_name_taken" });
    await expectOpenAIError(await admin(`/admin/keys/${other.id}`, "PATCH", { status: "expired" }), 400, { param: "status" });
    await expectOpenAIError(await admin(`/admin/keys/${other.id}`, "PATCH", { name: "carriage\rreturn" }), 400, { param: "name" });
    await expectOpenAIError(await admin(`/admin/keys/${other.id}/rotate`, "POST", { graceSeconds: -1 }), 400, { param: "graceSeconds" });
    for (const [path, method] of [
      ["/admin/keys/key_0000000000000000", "GET"],
      ["/admin/keys/key_0000000000000000", "PATCH"],
      ["/admin/keys/key_0000000000000000", "DELETE"],
      ["/admin/keys/key_0000000000000000/rotate", "POST"],
    ] as const) {
      await expectOpenAIError(await admin(path, method, method === "PATCH" ? { name: "n" } : undefined), 404, { code: "key_not_found", param: "id" });
    }
    expect((await admin("/admin/keys/config:config-team")).status).toBe(200);
    await expectOpenAIError(await admin("/admin/keys/config:config-team", "PATCH", { status: "blocked" }), 409, { code: "config_key_read_only" });
    await expectOpenAIError(await admin("/admin/keys/config:config-team", "DELETE"), 409, { code: "config_key_read_only" });
    await expectOpenAIError(await admin("/admin/keys/config:config-team/rotate", "POST"), 409, { code: "config_key_read_only" });
  });

  test("an admin body is read within a bound, declared or sent in chunks: a 413, not held whole; rotate takes none", async () => {
    const huge = JSON.stringify({ name: "big", metadata: { note: "x".repeat(2 * 1024 * 1024) } });
    await expectOpenAIError(await admin("/admin/keys", "POST", huge), 413);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 32; i++) controller.enqueue(new TextEncoder().encode(i === 0 ? '{"name":"big","metadata":{"note":"' : "y".repeat(64 * 1024)));
        controller.close();
      },
    });
    const chunked = await fetch(proxy.url("/admin/keys"), { method: "POST", headers: { ...asAdmin, "content-type": "application/json" }, body: chunks });
    await expectOpenAIError(chunked, 413);
    const made = await create({ name: "rotated-bare" });
    expect((await admin(`/admin/keys/${made.id}/rotate`, "POST")).status).toBe(200);
  });

  test("needs the admin key: none or a client key is a 401, issued keys included", async () => {
    await expectOpenAIError(await fetch(proxy.url("/admin/keys")), 401, { code: "invalid_admin_key" });
    const made = await create({ name: "not-an-admin" });
    await expectOpenAIError(await fetch(proxy.url("/admin/keys"), { headers: { authorization: `Bearer ${made.key}` } }), 401, { code: "invalid_admin_key" });
    await expectOpenAIError(
      await fetch(proxy.url("/admin/keys"), {
        method: "POST",
        headers: { authorization: `Bearer ${CONFIG_KEY}`, "content-type": "application/json" },
        body: "{}",
      }),
      401,
    );
  });
});

describe("limits of an issued key", () => {
  test("its own rpm applies (no limits in the config), counted by its id: a rename does not reset it", async () => {
    const made = await create({ name: "limited", limits: { rpm: 2 } });
    expect((await chat(made.key)).status).toBe(200);
    expect((await chat(made.key)).status).toBe(200);
    await expectOpenAIError(await chat(made.key), 429, { type: "rate_limit_error" });
    await admin(`/admin/keys/${made.id}`, "PATCH", { name: "limited-renamed" });
    await expectOpenAIError(await chat(made.key), 429, { type: "rate_limit_error" });
    // A key without limits is not limited by it.
    const free = await create({ name: "unlimited" });
    for (let i = 0; i < 3; i++) expect((await chat(free.key)).status).toBe(200);
  });
});

describe("budgets of an issued key", () => {
  test("its own usdPerDay: admitted while below it, then 429 insufficient_quota; /v1/me shows the budget and nothing left; a restart without Redis still remembers the spend", async () => {
    // $0.007 a request: below $0.01 after the first, over it after the second.
    const made = await create({ name: "budgeted", limits: { usdPerDay: 0.01 } });
    expect((await chat(made.key)).status).toBe(200);
    expect((await chat(made.key)).status).toBe(200);
    const refused = await chat(made.key);
    await expectOpenAIError(refused, 429, { type: "insufficient_quota", code: "insufficient_quota" });
    const me = await (await fetch(proxy.url("/v1/me"), { headers: { authorization: `Bearer ${made.key}` } })).json();
    expect(me.today.budgetUsd).toBe(0.01);
    expect(me.today.spentUsd).toBeCloseTo(0.014, 12);
    expect(me.today.remainingUsd).toBe(0);
    // /health lists an issued key's budget with the config keys' limits
    const health = await (await admin("/health")).json();
    const use = health.limits.find((entry: any) => entry.subject === "budgeted");
    expect(use).toMatchObject({ scope: "client", limit: "usdPerDay", max: 0.01, remaining: 0 });
    expect(use.used).toBeCloseTo(0.014, 12);
    // A second instance on the same usage file (memory counters) starts from the day's spend, counted by the key's id.
    await proxy.server.usage!.flush();
    const again = await startProxy({ ...config(), usage: { path: join(proxy.dir, "usage.db") } });
    try {
      await expectOpenAIError(await chat(made.key, "gpt", again), 429, { code: "insufficient_quota" });
    } finally {
      await again.stop();
    }
  });
});

describe("a budget given to an issued key later", () => {
  test("on an instance started with no budget anywhere, the key starts from what it already spent today", async () => {
    const first = await startProxy(config());
    const as =
      (to: ProxyHandle) =>
      (path: string, method = "GET", body?: unknown) =>
        fetch(to.url(path), { method, headers: { ...asAdmin, "content-type": "application/json" }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    let made: { id: string; key: string };
    try {
      made = await (await as(first)("/admin/keys", "POST", { name: "budget-later" })).json();
      for (let i = 0; i < 2; i++) expect((await chat(made.key, "gpt", first)).status).toBe(200); // $0.014
      // A request's row is queued when its record ends, just after its answer was sent: wait for both.
      await eventually(async () => {
        const me = await (await fetch(first.url("/v1/me"), { headers: { authorization: `Bearer ${made.key}` } })).json();
        return me.today.spentUsd > 0.0139;
      }, "both requests' usage rows");
      await first.server.usage!.flush();
    } finally {
      await first.stop();
    }
    // Restarted on the same file, no budget in the config nor on any key: nothing is read back at start.
    const second = await startProxy({ ...config(), usage: { path: join(first.dir, "usage.db") } });
    try {
      expect((await as(second)(`/admin/keys/${made.id}`, "PATCH", { limits: { usdPerDay: 0.01 } })).status).toBe(200);
      await eventually(async () => {
        const health = await (await as(second)("/health")).json();
        return (health.limits ?? []).some((use: any) => use.subject === "budget-later" && use.used > 0.0139);
      }, "the key's spend today read back from the usage rows");
      await expectOpenAIError(await chat(made.key, "gpt", second), 429, { code: "insufficient_quota" });
    } finally {
      await second.stop();
    }
  });
});

describe("/v1/me", () => {
  test("an issued key: its id, name, models, limits and spend today and this month, with when each window starts again", async () => {
    const made = await create({ name: "me-user", models: ["gpt"], limits: { rpm: 50 } });
    for (const path of ["/v1/me", "/me"]) {
      const response = await fetch(proxy.url(path), { headers: { authorization: `Bearer ${made.key}` } });
      expect(response.status).toBe(200);
      const me = await response.json();
      expect(me).toMatchObject({ id: made.id, name: "me-user", source: "api", models: ["gpt"], limits: { rpm: 50 }, expiresAt: null });
      expect(me.today).toMatchObject({ budgetUsd: null, remainingUsd: null });
      const dayEnd = new Date();
      dayEnd.setUTCHours(24, 0, 0, 0);
      expect(me.today.resetsAt).toBe(dayEnd.toISOString());
      const now = new Date();
      expect(me.month.resetsAt).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());
    }
  });

  test("a config key describes itself too; no key is a 401", async () => {
    const me = await (await fetch(proxy.url("/v1/me"), { headers: { authorization: `Bearer ${CONFIG_KEY}` } })).json();
    expect(me).toMatchObject({ id: null, name: "config-team", source: "config", models: ["gpt"] });
    await expectOpenAIError(await fetch(proxy.url("/v1/me")), 401);
  });
});

describe("spend", () => {
  test("from the usage rows' cost_usd: an issued key's by its id (a rename keeps it), a config key's by its name; unpriced is null, unused 0", async () => {
    const made = await create({ name: "spender" });
    for (let i = 0; i < 3; i++) expect((await chat(made.key)).status).toBe(200);
    const unpriced = await create({ name: "unpriced-user" });
    expect((await chat(unpriced.key, "llama")).status).toBe(200);
    const unused = await create({ name: "unused" });
    await admin(`/admin/keys/${made.id}`, "PATCH", { name: "spender-renamed" });
    // Rows are written by the usage store's batches: wait for the access lines, then for the write.
    await eventually(() => proxy.log.accessLines.filter((line) => line.includes("/v1/chat/completions")).length > 0, "access lines");
    await proxy.server.usage!.flush();
    const shown = await (await admin(`/admin/keys/${made.id}`)).json();
    expect(shown.name).toBe("spender-renamed");
    expect(shown.spendTodayUsd).toBeCloseTo(0.021, 12);
    expect(shown.spendMonthUsd).toBeCloseTo(0.021, 12);
    const { data } = await (await admin("/admin/keys")).json();
    const byName = (name: string) => data.find((key: { name: string }) => key.name === name);
    expect(byName("spender-renamed").spendTodayUsd).toBeCloseTo(0.021, 12);
    expect(byName("unpriced-user")).toMatchObject({ spendTodayUsd: null, spendMonthUsd: null });
    expect(byName("unused")).toMatchObject({ spendTodayUsd: 0, spendMonthUsd: 0 });
    expect(byName("config-team").spendTodayUsd).toBeGreaterThan(0);
    const me = await (await fetch(proxy.url("/v1/me"), { headers: { authorization: `Bearer ${made.key}` } })).json();
    expect(me.today.spentUsd).toBeCloseTo(0.021, 12);
    expect(me.month.spentUsd).toBeCloseTo(0.021, 12);
  });
});

describe("a config key named like a revoked issued key", () => {
  test("starts from its own spend in /v1/me and /admin/keys, as its budget does", async () => {
    const priced = (keys: { key: string; name: string }[]) => ({
      endpoints: { solo: { url: mock.url, price: { inputPerMTok: 100_000, outputPerMTok: 100_000 } } },
      adminKey: ADMIN_KEY,
      clientKeys: keys,
      limits: { perClient: { usdPerDay: 5 } },
    });
    const BOB = "ck-config-bob-0123456789abcdef";
    const ALICE = "ck-config-alice-0123456789abcde";
    const own = await startProxy(priced([{ key: BOB, name: "bob" }]));
    try {
      const as = (key: string) => ({ authorization: `Bearer ${key}` });
      const made = await (await postJson(own.url("/admin/keys"), { name: "alice" }, as(ADMIN_KEY))).json();
      expect((await postJson(own.url("/v1/chat/completions"), chatBody("solo"), as(made.key))).status).toBe(200);
      await own.server.usage!.flush();
      expect((await fetch(own.url(`/admin/keys/${made.id}`), { method: "DELETE", headers: as(ADMIN_KEY) })).status).toBe(200);
      writeConfig(
        own.configPath,
        priced([
          { key: BOB, name: "bob" },
          { key: ALICE, name: "alice" },
        ]),
      );
      expect((await fetch(own.url("/reload"), { method: "POST", headers: as(ADMIN_KEY) })).status).toBe(200);
      const me = await (await fetch(own.url("/v1/me"), { headers: as(ALICE) })).json();
      expect(me.today).toMatchObject({ spentUsd: 0, remainingUsd: 5 });
      const { data } = await (await fetch(own.url("/admin/keys"), { headers: as(ADMIN_KEY) })).json();
      expect(data.find((key: { id: string }) => key.id === "config:alice").spendTodayUsd).toBe(0);
      expect(data.find((key: { id: string }) => key.id === made.id).spendTodayUsd).toBeGreaterThan(0);
    } finally {
      await own.stop();
    }
  });
});

describe("storage", () => {
  test("the usage file holds digests, never a secret (every byte of the file and its WAL searched)", async () => {
    const made = await create({ name: "grep-me" });
    const rotated = await (await admin(`/admin/keys/${made.id}/rotate`, "POST", { graceSeconds: 60 })).json();
    expect((await chat(made.key)).status).toBe(200);
    await proxy.server.usage!.flush();
    const files = readdirSync(proxy.dir).filter((name) => name.startsWith("usage.db"));
    expect(files).toContain("usage.db");
    let sawDigest = false;
    const digestHex = new Bun.CryptoHasher("sha256").update(made.key).digest("hex");
    for (const name of files) {
      const bytes = readFileSync(join(proxy.dir, name));
      for (const secret of [made.key, rotated.key]) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
        expect(bytes.includes(Buffer.from(secret.slice(10)))).toBe(false);
      }
      if (bytes.includes(Buffer.from(digestHex))) sawDigest = true;
    }
    expect(sawDigest).toBe(true);
    // Nor in a log line.
    expect(proxy.log.lines.join("\n")).not.toContain(made.key);
    expect(proxy.log.accessLines.join("\n")).not.toContain(made.key);
  });

  test("a change that races a revocation never brings the key back, nor does a rotation that races another (the table's conditions)", async () => {
    const table = SqliteKeyTable.open(join(proxy.dir, "usage.db"));
    try {
      await expectRevokedKeysStayRevoked(table);
      await expectRotationsNotToRace(table);
    } finally {
      await table.close();
    }
  });

  test("keys outlive a restart: a second proxy on the same file knows them", async () => {
    const made = await create({ name: "durable" });
    const revoked = await create({ name: "gone" });
    await admin(`/admin/keys/${revoked.id}`, "DELETE");
    const again = await startProxy({ ...config(), usage: { path: join(proxy.dir, "usage.db") } });
    try {
      expect((await chat(made.key, "gpt", again)).status).toBe(200);
      await expectOpenAIError(await chat(revoked.key, "gpt", again), 401, { code: "key_revoked" });
    } finally {
      await again.stop();
    }
  });
});

describe("with usage disabled", () => {
  test("the key API answers 503 naming usage.enabled; the proxy stays open without config keys", async () => {
    const off = await startProxy({ endpoints: { gpt: { url: mock.url } }, usage: { enabled: false } });
    try {
      for (const [path, method] of [
        ["/admin/keys", "GET"],
        ["/admin/keys", "POST"],
        ["/admin/keys/key_0000000000000000", "GET"],
        ["/admin/keys/key_0000000000000000", "DELETE"],
      ] as const) {
        const response = await fetch(off.url(path), {
          method,
          headers: { "content-type": "application/json" },
          ...(method === "POST" && { body: JSON.stringify({ name: "x" }) }),
        });
        await expectOpenAIError(response, 503, { code: "usage_disabled", messageIncludes: ["usage.enabled"] });
      }
      expect((await postJson(off.url("/v1/chat/completions"), chatBody("gpt"), { authorization: "" })).status).toBe(200);
    } finally {
      await off.stop();
    }
  });
});
