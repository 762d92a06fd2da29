// Target cool-downs shared through Redis: a target taken out on one instance is out on the others
// (which never sent it a request), comes back on all when one instance's trial succeeds, and an
// instance that starts (or whose Redis restarted) catches up.
import { describe, expect, test } from "bun:test";
import { reply, type MockBackend, type RecordedRequest } from "../support/mock-backend";
import { startProxy, type ProxyHandle } from "../support/proxy";
import { answer, chat, eventually, health } from "./fleet";
import { redisSuite } from "./suite";

const KEY = "ck-redis-cooldown-00000000000000";
const TEST_MS = 30_000;
const SEEN_MS = 5_000;

const suite = redisSuite({ mocks: ["cooldown-a", "cooldown-b"], testsTakeRedisAway: true });
const [a, b] = suite.mocks;

const modelRequests = (mock: MockBackend) => mock.requests.filter((request) => request.method !== "GET");
const failing = () => reply.json({ error: { message: "a is broken", type: "server_error", param: null, code: null } }, { status: 500 });
const completion = (request: RecordedRequest) => reply.json({ id: "c", object: "chat.completion", model: request.json().model, choices: [] });

function config(cooldownSeconds: number, extra: Record<string, unknown> = {}) {
  return {
    endpoints: {
      duo: {
        targets: [
          { name: "a", url: a.url },
          { name: "b", url: b.url },
        ],
        strategy: "round-robin",
        cooldown: { failures: 1, seconds: cooldownSeconds },
        retry: { backoffMs: 0 },
        ...extra,
      },
    },
    clientKeys: [{ key: KEY, name: "team" }],
    state: { redis: suite.redis.url },
  };
}

async function instance(cooldownSeconds: number, label: string, extra: Record<string, unknown> = {}) {
  return suite.stopAfterTest(await startProxy(config(cooldownSeconds, extra), { label }));
}

async function targetA(proxy: ProxyHandle) {
  const model = (await health(proxy)).models.find((one: { id: string }) => one.id === "duo");
  return model.targets.find((target: { name: string }) => target.name === "a") as { state: string; cooldownUntil: string | null; consecutiveFailures: number };
}

/** Sends requests to `proxy` until one has reached backend a (round-robin alternates a and b). */
async function untilAReached(proxy: ProxyHandle) {
  const before = modelRequests(a).length;
  for (let i = 0; i < 4 && modelRequests(a).length === before; i++) {
    const one = await answer(() => chat(proxy, KEY, "duo"));
    expect(one.status).toBe(200); // a's failure is retried on b
  }
  expect(modelRequests(a).length).toBeGreaterThan(before);
}

describe("cool-downs shared through Redis", () => {
  test(
    "a target taken out on A is cooling on B, which sent it nothing; B's requests all go elsewhere",
    async () => {
      const instanceA = await instance(30, "instance A");
      const instanceB = await instance(30, "instance B");
      expect((await targetA(instanceB)).state).toBe("up");
      a.willReply(failing);
      b.willReply(completion);
      await untilAReached(instanceA);
      const onA = await targetA(instanceA);
      expect(onA.state).toBe("cooling");
      // B learns it from Redis, without a request of its own.
      const onB = await eventually(
        async () => {
          const target = await targetA(instanceB);
          return target.state === "cooling" && target;
        },
        SEEN_MS,
        "B seeing a cooling",
      );
      expect(Math.abs(Date.parse(onB.cooldownUntil!) - Date.parse(onA.cooldownUntil!))).toBeLessThan(1_000);
      expect(onB.consecutiveFailures).toBe(0); // B saw no failure itself
      const seenByA = modelRequests(a).length;
      for (let i = 0; i < 4; i++) expect((await answer(() => chat(instanceB, KEY, "duo"))).headers.get("x-cm-proxy-served-by")).toBe("duo/b");
      expect(modelRequests(a).length).toBe(seenByA);
    },
    TEST_MS,
  );

  test(
    "a Retry-After hold taken on A is held on B",
    async () => {
      const instanceA = await instance(0.2, "instance A");
      const instanceB = await instance(0.2, "instance B");
      a.willReply(() =>
        reply.json({ error: { message: "slow down", type: "rate_limit_error", param: null, code: null } }, { status: 429, headers: { "retry-after": "20" } }),
      );
      b.willReply(completion);
      await untilAReached(instanceA);
      const onB = await eventually(
        async () => {
          const target = await targetA(instanceB);
          return target.state === "cooling" && target;
        },
        SEEN_MS,
        "B seeing a held",
      );
      expect(Date.parse(onB.cooldownUntil!) - Date.now()).toBeGreaterThan(15_000);
    },
    TEST_MS,
  );

  test(
    "when A's half-open trial succeeds, B's cool-down ends too",
    async () => {
      const instanceA = await instance(0.4, "instance A");
      const instanceB = await instance(0.4, "instance B");
      a.willReply(failing);
      b.willReply(completion);
      await untilAReached(instanceA);
      await eventually(async () => (await targetA(instanceB)).state === "cooling", SEEN_MS, "B seeing a cooling");
      // Past the cool-down both are half-open; A's trial succeeds and B hears it: up without a trial of its own.
      a.willReply(completion);
      await eventually(async () => (await targetA(instanceB)).state === "half-open", SEEN_MS, "B half-open");
      const before = modelRequests(a).length;
      await untilAReached(instanceA);
      expect((await targetA(instanceA)).state).toBe("up");
      await eventually(async () => (await targetA(instanceB)).state === "up", SEEN_MS, "B seeing a up");
      expect(modelRequests(a).length).toBe(before + 1); // the one trial, through A
    },
    TEST_MS,
  );

  test(
    "an instance started after the take-out catches up from Redis",
    async () => {
      const instanceA = await instance(30, "instance A");
      a.willReply(failing);
      b.willReply(completion);
      await untilAReached(instanceA);
      const late = await instance(30, "instance C");
      await eventually(async () => (await targetA(late)).state === "cooling", SEEN_MS, "C seeing a cooling");
    },
    TEST_MS,
  );

  test(
    "after Redis restarts, instances subscribe again: a cool-down taken then is still shared",
    async () => {
      const instanceA = await instance(30, "instance A");
      const instanceB = await instance(30, "instance B");
      await suite.redis.stop();
      await eventually(async () => (await health(instanceB)).stores?.redis === "down", SEEN_MS, "B seeing redis down");
      await suite.redis.start();
      for (const proxy of [instanceA, instanceB]) await eventually(async () => (await health(proxy)).stores?.redis === "up", 8_000, "redis up again");
      a.willReply(failing);
      b.willReply(completion);
      await untilAReached(instanceA);
      await eventually(async () => (await targetA(instanceB)).state === "cooling", SEEN_MS, "B seeing a cooling");
    },
    TEST_MS,
  );

  test(
    "a failed health check on A takes the target out on B",
    async () => {
      const instanceA = await instance(30, "instance A", { healthCheck: { intervalMs: 150 } });
      // B checks rarely: what it shows comes from A.
      const instanceB = await instance(30, "instance B", { healthCheck: { intervalMs: 600_000 } });
      a.willReply((request) => (request.method === "GET" ? reply.json({ error: "down" }, { status: 503 }) : failing()));
      await eventually(async () => (await targetA(instanceA)).state === "cooling", SEEN_MS, "A's health check taking a out");
      await eventually(async () => (await targetA(instanceB)).state === "cooling", SEEN_MS, "B seeing a cooling");
    },
    TEST_MS,
  );
});
