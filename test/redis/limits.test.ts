// Limits shared across instances through a real redis-server: N instances enforce one limit.
import { describe, expect, test } from "bun:test";
import { expectOpenAIError } from "../support/http";
import { reply } from "../support/mock-backend";
import type { ProxyHandle } from "../support/proxy";
import { answer, chat, eventually, health, startFleet } from "./fleet";
import { pool } from "../support/pool";
import { redisSuite } from "./suite";

const KEY_A = "ck-redis-team-a-00000000000000000";
const KEY_B = "ck-redis-team-b-00000000000000000";

const suite = redisSuite({ mocks: ["redis-limits"], testsTakeRedisAway: false });
const [mock] = suite.mocks;

function config(limits: Record<string, unknown>) {
  return {
    endpoints: { gpt: { url: mock.url, apiKey: "sk-backend-redis-limits-0000" } },
    clientKeys: [
      { key: KEY_A, name: "team-a" },
      { key: KEY_B, name: "team-b" },
    ],
    limits,
    state: { redis: suite.redis.url },
  };
}

/**
 * Charges and releases reach Redis after the request ended, possibly after its access line: a
 * test that counts on them waits until an instance's /health shows them.
 */
const clientUse = async (instance: ProxyHandle, limit: string) =>
  (await health(instance)).limits.find((use: any) => use.scope === "client" && use.limit === limit)?.used;
const spentToday = (instance: ProxyHandle, tokens: number, label: string) =>
  eventually(async () => (await clientUse(instance, "tokensPerDay")) === tokens, 5000, label);

describe("limits shared by instances on one Redis", () => {
  test("three instances, rpm 120, 3 × 100 requests from one key at once: 120 allowed across the three (±1), the rest 429 with Retry-After", async () => {
    const fleet = suite.stopAfterTest(await startFleet(3, config({ perClient: { rpm: 120 } })));
    // Connections to Redis are opened by the first request: warm each instance with another key.
    for (const instance of fleet.instances) expect((await answer(() => chat(instance, KEY_B))).status).toBe(200);
    mock.reset();
    const started = performance.now();
    const answers = (await Promise.all(fleet.instances.map((instance) => pool(100, 20, () => answer(() => chat(instance, KEY_A)))))).flat();
    const elapsedMs = performance.now() - started;
    const allowed = answers.filter((one) => one.status === 200).length;
    const refused = answers.filter((one) => one.status === 429);
    // GCRA refills one request every 500 ms at rpm 120: a slow run may admit one more per 500 ms it took.
    const refills = Math.floor(elapsedMs / 500);
    expect(allowed).toBeGreaterThanOrEqual(119);
    expect(allowed).toBeLessThanOrEqual(121 + refills);
    if (elapsedMs < 500) expect(Math.abs(allowed - 120)).toBeLessThanOrEqual(1);
    expect(allowed + refused.length).toBe(300);
    expect(mock.requests.length).toBe(allowed);
    // Each instance admitted some: the limit is one across them, not 120 each.
    for (let i = 0; i < 3; i++) expect(answers.slice(i * 100, i * 100 + 100).some((one) => one.status === 200)).toBe(true);
    for (const one of refused) {
      expect(Number(one.retryAfter)).toBeGreaterThanOrEqual(1);
      const error = JSON.parse(one.body).error;
      expect(error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
      expect(error.message).toContain("team-a");
      expect(one.headers.get("x-ratelimit-limit-requests")).toBe("120");
      expect(one.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    }
  });

  test("concurrent 2 is shared: one stream on each of two instances, the third request (on either) is refused; one ending frees a slot for the other", async () => {
    const fleet = suite.stopAfterTest(await startFleet(2, config({ perClient: { concurrent: 2 } })));
    const [a, b] = fleet.instances as [any, any];
    mock.willReply(reply.sse(['data: {"choices":[{"delta":{"content":"x"}}]}\n\n'], { stallAfter: 1 }));
    const onA = await chat(a, KEY_A);
    const onB = await chat(b, KEY_A);
    expect([onA.status, onB.status]).toEqual([200, 200]);
    for (const instance of [a, b]) {
      const refused = await chat(instance, KEY_A);
      const error = await expectOpenAIError(refused, 429, { code: "rate_limit_exceeded" });
      expect(error.message).toContain("requests at once");
      expect(refused.headers.get("retry-after")).toBe("1");
    }
    // Another key has slots of its own.
    mock.willReply(reply.json({ id: "ok", choices: [] }));
    expect((await answer(() => chat(b, KEY_B))).status).toBe(200);
    // The stream on A ends: its slot, released in Redis, lets B admit one more. The access line
    // can be written before the release reached Redis, so B's own view of the slots is waited on.
    await onA.body!.cancel();
    await a.log.until(() => a.log.accessLines.some((line: string) => line.includes('"outcome":"client_aborted"')), 5000, "A's stream ending");
    await eventually(async () => (await clientUse(b, "concurrent")) === 1, 5000, "A's slot released in Redis, as B sees it");
    const next = await answer(() => chat(b, KEY_A));
    expect(next.status).toBe(200);
    await onB.body!.cancel();
    mock.reset();
  });

  test("tokensPerDay and tpm are shared: tokens spent through one instance count on the other", async () => {
    const fleet = suite.stopAfterTest(await startFleet(2, config({ perClient: { tokensPerDay: 30 }, perModel: { gpt: { tpm: 100 } } })));
    const [a, b] = fleet.instances as [any, any];
    mock.willReply(reply.json({ id: "c", choices: [], usage: { prompt_tokens: 19, completion_tokens: 1, total_tokens: 20 } }));
    const firstAt = performance.now();
    expect((await answer(() => chat(a, KEY_A))).status).toBe(200);
    await a.log.until(() => a.log.accessLines.length >= 1, 5000, "A's request ending");
    await spentToday(b, 20, "A's 20 tokens charged in Redis");
    const second = await answer(() => chat(b, KEY_A));
    expect(second.status).toBe(200);
    expect(second.headers.get("x-ratelimit-remaining-tokens")).toBe("10"); // 30 − 20 spent through A
    await b.log.until(() => b.log.accessLines.length >= 1, 5000, "B's request ending");
    // 40 spent of 30: B's request was admitted below the limit and charged whole.
    await spentToday(a, 40, "B's tokens charged in Redis");
    for (const instance of [a, b]) {
      const refused = await chat(instance, KEY_A);
      const error = await expectOpenAIError(refused, 429, { code: "rate_limit_exceeded" });
      expect(error.message).toContain("tokens per day");
      const midnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
      expect(Math.abs(Number(refused.headers.get("retry-after")) - midnight)).toBeLessThanOrEqual(2);
    }
    // Both instances' /health show the same use: the 40 tokens on the model's tpm, team-a's day spent (40 of 30).
    for (const instance of [a, b]) {
      const { limits } = await health(instance);
      expect(limits).toContainEqual(expect.objectContaining({ scope: "client", subject: "team-a", limit: "tokensPerDay", max: 30, used: 40, remaining: 0 }));
      const tpm = limits.find((use: any) => use.scope === "model" && use.limit === "tpm");
      // 40 minus what refilled meanwhile (tpm 100: one token every 600 ms).
      expect(tpm.used).toBeGreaterThanOrEqual(40 - Math.ceil((performance.now() - firstAt) / 600) - 1);
      expect(tpm.used).toBeLessThanOrEqual(40);
    }
    // team-b has a day of its own.
    expect((await answer(() => chat(b, KEY_B))).status).toBe(200);
  });

  test("an instance that drains (shutdown) hands back the slots of the streams it finished before closing Redis", async () => {
    const fleet = suite.stopAfterTest(await startFleet(2, config({ perClient: { concurrent: 1 } })));
    const [a, b] = fleet.instances as [any, any];
    mock.willReply(
      reply.sse(['data: {"choices":[{"delta":{"content":"x"}}]}\n\n', 'data: {"choices":[{"delta":{"content":"y"}}]}\n\n', "data: [DONE]\n\n"], {
        delayMs: 100,
      }),
    );
    const stream = await chat(a, KEY_A, "gpt", {}, { stream: true });
    expect(stream.status).toBe(200);
    expect((await answer(() => chat(b, KEY_A))).status).toBe(429);
    const drained = a.server.shutdown();
    expect(await stream.text()).toContain("[DONE]");
    expect(await drained).toBe(true);
    // Released in Redis before A let go of it: B admits at once, not after A's lease (30 s).
    mock.willReply(reply.json({ id: "ok", choices: [] }));
    expect((await answer(() => chat(b, KEY_A))).status).toBe(200);
  });

  test("/health lists redis as a store, up", async () => {
    const fleet = suite.stopAfterTest(await startFleet(1, config({ perClient: { rpm: 10 } })));
    const report = await health(fleet.instances[0]!);
    expect(report.status).toBe("ok");
    expect(report.stores).toEqual({ redis: "up" });
  });
});
