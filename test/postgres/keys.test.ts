// Issued client keys shared by two proxy instances through one PostgreSQL table (cm_proxy_keys):
// a key made on one works on the other, and a revocation, block, change or rotation made on one
// reaches the other within 2 s — by polling the table alone, and by Redis publish/subscribe (the
// poll then being a slow safety net, so only the announcement can be that quick). The table holds
// digests, never a secret; a server that is away keeps loaded keys working and never opens the proxy.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { KEYS_TABLE, PostgresKeyTable } from "../../src/keys/postgres-keys";
import { KeyStoreUnavailable } from "../../src/keys/key-table";
import { startTcpRelay } from "../support/tcp-relay";
import { expectRevokedKeysStayRevoked, expectRotationsNotToRace } from "../support/key-table-contract";
import { within } from "../support/events";
import { chatBody, expectOpenAIError, postJson } from "../support/http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";
import { startRedis, type RedisServer } from "../redis/redis-server";
import { startPostgres, type PostgresServer } from "./postgres-server";

const ADMIN_KEY = registerSecret("admin-key-postgres-keys-0123456789", "admin key (postgres keys tests)");
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
/** What the issue promises: a change made on one instance is in force on every other within this. */
const PROPAGATION_MS = 2000;

let pg: PostgresServer;
let redis: RedisServer;
let backend: MockBackend;
const proxies: ProxyHandle[] = [];

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  backend = startMock("keys-fleet");
  backend.willReply(
    reply.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    }),
  );
});
afterEach(async () => {
  if (!pg.running) await pg.start();
  for (const handle of proxies.splice(0)) await handle.stop();
});
afterAll(async () => {
  await backend?.stop();
  await Promise.all([pg?.destroy(), redis?.destroy()]);
  removeTempDirs();
});

async function instance(database: string, top: Record<string, unknown> = {}, label = `keys instance ${proxies.length + 1}`) {
  const handle = await startProxy(
    {
      endpoints: { gpt: { url: backend.url }, llama: { url: backend.url } },
      adminKey: ADMIN_KEY,
      usage: { postgres: pg.url(undefined, database) },
      ...top,
    },
    { label },
  );
  proxies.push(handle);
  return handle;
}

const admin = async (handle: ProxyHandle, path: string, method = "GET", body?: unknown) =>
  fetch(handle.url(path), { method, headers: asAdmin, ...(body !== undefined && { body: JSON.stringify(body) }) });

async function create(handle: ProxyHandle, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await admin(handle, "/admin/keys", "POST", body);
  expect(response.status).toBe(201);
  const made = await response.json();
  registerSecret(made.key, `issued key ${body.name}`);
  return made;
}

async function status(handle: ProxyHandle, key: string, model = "gpt"): Promise<number> {
  const response = await postJson(handle.url("/v1/chat/completions"), chatBody(model), { authorization: `Bearer ${key}` });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until `key` gets `expected` from `handle`; fails unless that happens within `ms`. */
async function until(handle: ProxyHandle, key: string, expected: number, label: string, ms = PROPAGATION_MS, model = "gpt") {
  await within(
    (async () => {
      while ((await status(handle, key, model)) !== expected) await Bun.sleep(20);
    })(),
    ms,
    label,
  );
}

/** Every change in force on the other instance within 2 s. */
async function propagation(a: ProxyHandle, b: ProxyHandle) {
  const made = await create(a, { name: "shared" });
  expect(await status(a, made.key)).toBe(200); // at once where it was made
  await until(b, made.key, 200, "the new key on the other instance");

  expect((await admin(a, `/admin/keys/${made.id}`, "PATCH", { status: "blocked" })).status).toBe(200);
  await until(b, made.key, 401, "the block on the other instance");
  expect((await admin(b, `/admin/keys/${made.id}`, "PATCH", { status: "active", models: ["llama"] })).status).toBe(200);
  await until(a, made.key, 403, "the change of models on the first instance");
  expect(await status(a, made.key, "llama")).toBe(200);

  const rotated = await (await admin(a, `/admin/keys/${made.id}/rotate`, "POST", { graceSeconds: 600 })).json();
  registerSecret(rotated.key, "rotated shared key");
  await until(b, rotated.key, 200, "the rotated secret on the other instance", PROPAGATION_MS, "llama");
  expect(await status(b, made.key, "llama")).toBe(200); // the former secret, within its grace

  expect((await admin(a, `/admin/keys/${made.id}`, "DELETE")).status).toBe(200);
  await until(b, rotated.key, 401, "the revocation on the other instance", PROPAGATION_MS, "llama");
  const revoked = await postJson(b.url("/v1/chat/completions"), chatBody("llama"), { authorization: `Bearer ${rotated.key}` });
  await expectOpenAIError(revoked, 401, { code: "key_revoked" });
  expect(await status(b, made.key, "llama")).toBe(401); // a revocation ends the grace too
  return made;
}

describe("two instances, one PostgreSQL table", () => {
  test("by polling the table: a new key, a block, a change, a rotation and a revocation reach the other instance within 2 s", async () => {
    await pg.createDatabase("keys_poll");
    const a = await instance("keys_poll");
    const b = await instance("keys_poll");
    const made = await propagation(a, b);
    const listed = await (await admin(b, `/admin/keys/${made.id}`)).json();
    expect(listed).toMatchObject({ name: "shared", status: "revoked", source: "api" });
  });

  test("with Redis: the announcement carries each change (the poll is 10 s there), within 2 s", async () => {
    await pg.createDatabase("keys_redis");
    const top = { state: { redis: redis.url } };
    const a = await instance("keys_redis", top);
    const b = await instance("keys_redis", top);
    await propagation(a, b);
  });

  // Stopped, its connections close; frozen, they stay open and nothing is answered, which b (no
  // limits: no command of its own) learns only from the link's heartbeat.
  const outages = [
    { name: "away", database: "keys_redis_down", begin: () => redis.stop(), end: () => redis.start() },
    { name: "frozen (connections open, nothing answered)", database: "keys_redis_frozen", begin: () => redis.freeze(), end: () => redis.resume() },
  ];
  for (const outage of outages) {
    test(`Redis ${outage.name}: the quick poll comes back, so a revocation still reaches the other instance within 2 s`, async () => {
      await pg.createDatabase(outage.database);
      const top = { state: { redis: redis.url } };
      const a = await instance(outage.database, top);
      const b = await instance(outage.database, top);
      const made = await create(a, { name: `while-redis-is-${outage.database}` });
      await until(b, made.key, 200, "the new key on the other instance");
      await outage.begin();
      try {
        await b.log.until(() => b.log.lines.some((line) => line.includes("is unreachable")), 10_000, "the other instance sees Redis gone");
        expect((await admin(a, `/admin/keys/${made.id}`, "DELETE")).status).toBe(200);
        await until(b, made.key, 401, "the revocation by polling");
      } finally {
        await outage.end();
      }
    });
  }

  test("a change that races a revocation never brings the key back, nor does a rotation that races another (the table's conditions)", async () => {
    await pg.createDatabase("keys_race");
    const table = PostgresKeyTable.open(pg.url(undefined, "keys_race"));
    try {
      await table.ready();
      await expectRevokedKeysStayRevoked(table);
      await expectRotationsNotToRace(table);
    } finally {
      await table.close();
    }
  });

  test("a server cut off by the network (connections open, nothing answered): calls fail as unavailable within seconds, and work once it is back", async () => {
    await pg.createDatabase("keys_partition");
    const relay = startTcpRelay(pg.port);
    const table = PostgresKeyTable.open(`postgres://postgres@127.0.0.1:${relay.port}/keys_partition`);
    try {
      await table.ready();
      expect(await table.all()).toEqual([]);
      relay.blackhole = true;
      await expect(within(table.all(), 10_000, "the call giving up")).rejects.toBeInstanceOf(KeyStoreUnavailable);
      relay.blackhole = false;
      relay.resetAll();
      expect(await within(table.all(), 10_000, "a call once the network is back")).toEqual([]);
    } finally {
      await table.close();
      relay.stop();
    }
  }, 30_000);

  test("cm_proxy_keys holds SHA-256 digests, never a secret (every column of every row)", async () => {
    await pg.createDatabase("keys_grep");
    const a = await instance("keys_grep");
    const made = await create(a, { name: "grep-me", metadata: { note: "no secret here" } });
    const rotated = await (await admin(a, `/admin/keys/${made.id}/rotate`, "POST", { graceSeconds: 60 })).json();
    registerSecret(rotated.key, "rotated grep key");
    expect(await status(a, made.key)).toBe(200);
    const client = new Bun.SQL(pg.url(undefined, "keys_grep"), { max: 1 });
    try {
      const rows = await client.unsafe(`SELECT * FROM ${KEYS_TABLE}`);
      expect(rows).toHaveLength(1);
      const text = JSON.stringify(rows);
      for (const secret of [made.key, rotated.key]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secret.slice(10));
      }
      expect(rows[0].digest).toBe(new Bun.CryptoHasher("sha256").update(rotated.key).digest("hex"));
      expect(rows[0].previous_digest).toBe(new Bun.CryptoHasher("sha256").update(made.key).digest("hex"));
    } finally {
      await client.close();
    }
  });

  test("an id no key can have (PostgreSQL refuses the NUL in it as text) is a 404 key_not_found on every route, not a 500", async () => {
    await pg.createDatabase("keys_ids");
    const a = await instance("keys_ids");
    for (const [path, method] of [
      ["/admin/keys/key_%00", "GET"],
      ["/admin/keys/key_%00", "PATCH"],
      ["/admin/keys/key_%00", "DELETE"],
      ["/admin/keys/key_%00/rotate", "POST"],
    ] as const) {
      await expectOpenAIError(await admin(a, path, method, method === "PATCH" ? { name: "n" } : undefined), 404, { code: "key_not_found", param: "id" });
    }
  });

  test("PostgreSQL away: loaded keys keep working, the key API answers 503; back: changes flow again", async () => {
    await pg.createDatabase("keys_outage");
    const a = await instance("keys_outage");
    const made = await create(a, { name: "survivor" });
    await pg.stop();
    expect(await status(a, made.key)).toBe(200);
    await expectOpenAIError(await admin(a, "/admin/keys"), 503, { code: "keys_store_unavailable" });
    await pg.start();
    await within(
      (async () => {
        while ((await admin(a, `/admin/keys/${made.id}`, "DELETE")).status !== 200) await Bun.sleep(100);
      })(),
      20_000,
      "the key API back",
    );
    expect(await status(a, made.key)).toBe(401);
  });

  test("a proxy started while PostgreSQL is away, with no config keys, is closed: no key is a 401, a key it cannot check a 503; once it is back, the keys are loaded", async () => {
    await pg.createDatabase("keys_closed");
    const first = await instance("keys_closed");
    const made = await create(first, { name: "existing" });
    await first.stop();
    proxies.splice(proxies.indexOf(first), 1);
    await pg.stop();
    const late = await instance("keys_closed", {}, "keys instance started during an outage");
    await expectOpenAIError(await postJson(late.url("/v1/chat/completions"), chatBody("gpt"), { authorization: "" }), 401);
    await expectOpenAIError(await postJson(late.url("/v1/chat/completions"), chatBody("gpt"), { authorization: `Bearer ${made.key}` }), 503, {
      code: "keys_unavailable",
    });
    await pg.start();
    await until(late, made.key, 200, "the keys loaded once PostgreSQL is back", 20_000);
    await expectOpenAIError(await postJson(late.url("/v1/chat/completions"), chatBody("gpt"), { authorization: "" }), 401);
  });
});

test("no registered secret (issued keys included) appears in anything recorded so far", () => {
  expectNoSecretLeaks();
});
