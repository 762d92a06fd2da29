// Redis going away and coming back under load, with a real redis-server killed (SIGKILL), frozen
// (SIGSTOP) and restarted on the same port: no crash, no hung request, `state.failMode` doing what
// it says, /health saying which store is down, and limits holding again after recovery.
import { describe, expect, test } from "bun:test";
import { expectOpenAIError } from "../support/http";
import type { ProxyHandle } from "../support/proxy";
import { answer, chat, eventually, health, startFleet, type Answer } from "./fleet";
import { pool } from "../support/pool";
import { redisSuite } from "./suite";

const KEY = "ck-redis-failover-000000000000000";
/** No request may take longer than this, whatever Redis does (connect and command timeouts are 1 s). */
const ANSWER_BOUND_MS = 3_000;
const RECOVERY_MS = 8_000;
const TEST_MS = 30_000;

const suite = redisSuite({ mocks: ["redis-failover"], testsTakeRedisAway: true });
const [mock] = suite.mocks;

function config(failMode: "open" | "closed", rpm = 20) {
  return {
    endpoints: { gpt: { url: mock.url, apiKey: "sk-backend-redis-failover-00" } },
    clientKeys: [{ key: KEY, name: "team-a" }],
    limits: { perClient: { rpm } },
    state: { redis: suite.redis.url, failMode },
  };
}

const send = (proxy: ProxyHandle) => answer(() => chat(proxy, KEY));

const warnings = (proxy: ProxyHandle, part: string) => proxy.log.lines.filter((line) => line.startsWith("WARN") && line.includes(part));

/** Every answer came within the bound, with one of the statuses allowed. */
function expectAnswered(answers: readonly Answer[], statuses: readonly number[]) {
  for (const one of answers) {
    expect(one.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(statuses).toContain(one.status);
  }
}

async function untilRedisIs(proxy: ProxyHandle, state: "up" | "down") {
  return eventually(async () => (await health(proxy)).stores?.redis === state, RECOVERY_MS, `/health saying redis is ${state}`);
}

describe("failMode open (the default)", () => {
  test(
    "Redis killed mid-run and restarted: every request answered in time, passing unlimited while it is away (logged once), limits enforced again after",
    async () => {
      const fleet = suite.stopAfterTest(await startFleet(2, config("open")));
      const [a, b] = fleet.instances as [ProxyHandle, ProxyHandle];
      // Before: the limit is shared and enforced.
      expectAnswered(await pool(10, 5, (i) => send(i % 2 ? a : b)), [200]);

      // A run of requests on both instances, Redis killed in its middle.
      let stop = false;
      const during: Answer[] = [];
      const load = Promise.all(
        [a, b].map(async (instance) => {
          while (!stop) during.push(await send(instance));
        }),
      );
      await eventually(async () => during.length >= 4, 5_000, "the load running");
      await suite.redis.stop();
      const killedAt = during.length;
      await eventually(async () => during.length >= killedAt + 40, 10_000, "40 requests answered with Redis away");
      stop = true;
      await load;
      expectAnswered(during, [200, 429]);
      // Away, nothing is limited: more than the 20 per minute pass (the 10 above already spent half).
      expect(during.slice(killedAt + 4).every((one) => one.status === 200)).toBe(true);

      // /health: still 200, degraded, and says which store.
      for (const instance of [a, b]) {
        const report = await health(instance);
        expect(report.status).toBe("degraded");
        expect(report.stores).toEqual({ redis: "down" });
        expect(report.limits).toBeNull(); // use against limits cannot be read
        // Logged once per outage, however many requests passed.
        expect(warnings(instance, "limit store unreachable")).toHaveLength(1);
        expect(warnings(instance, "failMode open")).toHaveLength(1);
        expect(warnings(instance, `redis at 127.0.0.1:${suite.redis.port} is unreachable`)).toHaveLength(1);
      }

      // Back (same port, empty as a restarted Redis without persistence is): it recovers by itself.
      await suite.redis.start();
      for (const instance of [a, b]) {
        await untilRedisIs(instance, "up");
        expect((await health(instance)).status).toBe("ok");
      }
      // Limits hold again: 20 per minute across both instances, then 429s.
      const after = await pool(24, 4, (i) => send(i % 2 ? a : b));
      expectAnswered(after, [200, 429]);
      expect(after.filter((one) => one.status === 200)).toHaveLength(20);
      for (const instance of [a, b]) {
        expect(instance.log.lines.filter((line) => line.includes("limit store reachable again"))).toHaveLength(1);
        expect(instance.log.lines.filter((line) => line.includes("is reachable again"))).toHaveLength(1);
      }
    },
    TEST_MS,
  );

  test(
    "Redis frozen (connections open, nothing answered): requests pass after at most the command timeout, then at once",
    async () => {
      const fleet = suite.stopAfterTest(await startFleet(1, config("open", 1000)));
      const [a] = fleet.instances as [ProxyHandle];
      expect((await send(a)).status).toBe(200);
      suite.redis.freeze();
      try {
        const first = await send(a);
        expect(first.status).toBe(200);
        expect(first.ms).toBeLessThan(ANSWER_BOUND_MS);
        const rest = await pool(20, 5, () => send(a));
        expectAnswered(rest, [200]);
        // Once Redis is known down, nobody waits for it.
        for (const one of rest) expect(one.ms).toBeLessThan(500);
        const report = await health(a);
        expect([report.status, report.stores]).toEqual(["degraded", { redis: "down" }]);
      } finally {
        suite.redis.resume();
      }
      await untilRedisIs(a, "up");
      expect((await send(a)).status).toBe(200);
    },
    TEST_MS,
  );

  test(
    "tokens spent while Redis is away are charged once it is back: passed unlimited, not free",
    async () => {
      const fleet = suite.stopAfterTest(await startFleet(1, { ...config("open", 1000), limits: { perClient: { tokensPerDay: 1000 } } }));
      const [a] = fleet.instances as [ProxyHandle];
      expect((await send(a)).status).toBe(200);
      await suite.redis.stop();
      // Five answers of 6 tokens each (the mock's usage), with no Redis to charge them to.
      expectAnswered(await pool(5, 1, () => send(a)), [200]);
      await untilRedisIs(a, "down");
      // Back empty (a restart without persistence forgets the first 6): the 30 owed land, and only once.
      await suite.redis.start();
      await untilRedisIs(a, "up");
      const used = async () => (await health(a)).limits?.find((use: { limit: string }) => use.limit === "tokensPerDay")?.used;
      await eventually(async () => (await used()) === 30, RECOVERY_MS, "the 30 tokens spent while away charged");
      expect((await send(a)).status).toBe(200);
      await eventually(async () => (await used()) === 36, RECOVERY_MS, "the next request charged on top");
    },
    TEST_MS,
  );

  test(
    "Redis away at start: the proxy starts and serves at once, and uses Redis once it is there",
    async () => {
      await suite.redis.stop();
      const started = performance.now();
      const fleet = suite.stopAfterTest(await startFleet(1, config("open", 3)));
      const [a] = fleet.instances as [ProxyHandle];
      expect(performance.now() - started).toBeLessThan(ANSWER_BOUND_MS);
      expectAnswered(await pool(6, 2, () => send(a)), [200]); // unlimited while away
      await untilRedisIs(a, "down");
      await suite.redis.start();
      await untilRedisIs(a, "up");
      const after = await pool(5, 1, () => send(a));
      expect(after.map((one) => one.status)).toEqual([200, 200, 200, 429, 429]);
    },
    TEST_MS,
  );
});

describe("failMode closed", () => {
  test(
    "Redis away: model requests get 503 in OpenAI's shape at once; /models, /health and admin routes work; back to limits after",
    async () => {
      const fleet = suite.stopAfterTest(await startFleet(2, config("closed", 5)));
      const [a, b] = fleet.instances as [ProxyHandle, ProxyHandle];
      expect((await send(a)).status).toBe(200);
      await suite.redis.stop();

      for (const instance of [a, b]) {
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const refused = await chat(instance, KEY);
          expect(performance.now() - started).toBeLessThan(ANSWER_BOUND_MS);
          const error = await expectOpenAIError(refused, 503, { type: "api_error", code: "limits_unavailable" });
          expect(error.message).toContain("unreachable");
        }
        const models = await fetch(instance.url("/v1/models"), { headers: { authorization: `Bearer ${KEY}` } });
        expect(models.status).toBe(200);
        expect((await models.json()).data.map((model: { id: string }) => model.id)).toContain("gpt");
        const report = await health(instance);
        expect([report.status, report.stores]).toEqual(["degraded", { redis: "down" }]);
        const ready = await fetch(instance.url("/ready"));
        expect(ready.status).toBe(200);
        await ready.arrayBuffer();
        const debug = await fetch(instance.url("/debug"));
        expect(debug.status).toBe(200);
        expect(JSON.stringify(await debug.json())).toContain(`redis://127.0.0.1:${suite.redis.port}`);
        expect(warnings(instance, "failMode closed")).toHaveLength(1);
      }
      expect(mock.requests.length).toBe(1); // nothing reached the backend while limits could not be checked

      await suite.redis.start();
      for (const instance of [a, b]) await untilRedisIs(instance, "up");
      const after = await pool(7, 1, (i) => send(i % 2 ? a : b));
      expect(after.map((one) => one.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    },
    TEST_MS,
  );
});
