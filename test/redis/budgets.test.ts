// Budgets in dollars shared by two instances through a real redis-server: what one instance charged,
// the other refuses on. Every answer of the priced mock costs $0.40 (200 prompt tokens at $1000 per
// million, 100 completion tokens at $2000 per million).
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { msToWindowEnd } from "../../src/limits/calendar";
import { reply } from "../support/mock-backend";
import type { ProxyHandle } from "../support/proxy";
import { eventually, health, startFleet } from "./fleet";
import { redisSuite } from "./suite";

const KEY_A = "ck-redis-budget-a-0000000000000000";
const KEY_B = "ck-redis-budget-b-0000000000000000";

const suite = redisSuite({ mocks: ["redis-budgets"], testsTakeRedisAway: false });
const [mock] = suite.mocks;

function config(limits: Record<string, unknown>) {
  return {
    endpoints: { gpt: { url: mock.url, apiKey: "sk-backend-redis-budgets-0", price: { inputPerMTok: 1000, outputPerMTok: 2000 } } },
    clientKeys: [
      { key: KEY_A, name: "team-a" },
      { key: KEY_B, name: "team-b" },
    ],
    limits,
    state: { redis: suite.redis.url },
  };
}

const sdk = (instance: ProxyHandle, key = KEY_A, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: instance.url("/v1"), apiKey: key, defaultHeaders: headers, maxRetries: 0 });

const ask = (client: OpenAI) => client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] });

/** What an instance's /health says `scope`'s budget of `subject` has spent (its charge reaches Redis after the answer). */
const used = async (instance: ProxyHandle, scope: string, subject: string, limit: string) =>
  (await health(instance)).limits.find((use: any) => use.scope === scope && use.subject === subject && use.limit === limit)?.used;

const spentSoFar = (instance: ProxyHandle, scope: string, subject: string, limit: string, usd: number) =>
  eventually(async () => (await used(instance, scope, subject, limit)) === usd, 5000, `${scope} ${subject} at $${usd}`);

async function refusal(client: OpenAI): Promise<InstanceType<typeof OpenAI.RateLimitError>> {
  const error = await ask(client).then(
    () => null,
    (caught) => caught,
  );
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  return error;
}

describe("budgets shared by instances on one Redis", () => {
  test("usdPerDay $1.20 per key across two instances: A, B, A spend it; both then refuse with Retry-After to 00:00 UTC; another key is unaffected", async () => {
    const fleet = suite.stopAfterTest(await startFleet(2, config({ perClient: { usdPerDay: 1.2 } })));
    const [a, b] = fleet.instances as [ProxyHandle, ProxyHandle];
    mock.willReply(reply.json({ id: "c", object: "chat.completion", choices: [], usage: { prompt_tokens: 200, completion_tokens: 100, total_tokens: 300 } }));
    let spent = 0;
    for (const instance of [a, b, a]) {
      await ask(sdk(instance));
      spent = Math.round((spent + 0.4) * 100) / 100;
      // Each instance sees what the other charged.
      await spentSoFar(a, "client", "team-a", "usdPerDay", spent);
      await spentSoFar(b, "client", "team-a", "usdPerDay", spent);
    }
    for (const instance of [a, b]) {
      const sentAt = Date.now();
      const error = await refusal(sdk(instance));
      const answeredAt = Date.now();
      expect(error.code).toBe("insufficient_quota");
      expect(error.type).toBe("insufficient_quota");
      expect(error.message).toContain("the API key 'team-a': $1.20 per day");
      const retryAfter = Number(error.headers?.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil(msToWindowEnd("day", answeredAt) / 1000) - 1);
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(msToWindowEnd("day", sentAt) / 1000) + 1);
    }
    expect(mock.requests.length).toBe(3);
    await ask(sdk(b, KEY_B));
    // Both instances report the same spend and what is left, in dollars.
    for (const instance of [a, b]) {
      expect((await health(instance)).limits.find((use: any) => use.subject === "team-a")).toMatchObject({ max: 1.2, used: 1.2, remaining: 0 });
    }
  });

  test("a user's monthly budget is one across instances and keys; the counter in Redis is whole nano-dollars", async () => {
    const fleet = suite.stopAfterTest(await startFleet(2, config({ perUser: { usdPerMonth: 0.8 } })));
    const [a, b] = fleet.instances as [ProxyHandle, ProxyHandle];
    mock.willReply(reply.json({ id: "c", object: "chat.completion", choices: [], usage: { prompt_tokens: 200, completion_tokens: 100, total_tokens: 300 } }));
    const user = { "x-openwebui-user-id": "user-redis-1" };
    await ask(sdk(a, KEY_A, user));
    const client = await suite.redis.client();
    const key = "cm-proxy:user:usdPerMonth:user-redis-1";
    await eventually(async () => (await client.send("HGET", [key, "spent"])) === "400000000", 5000, "the first charge in Redis");
    await ask(sdk(b, KEY_B, user));
    await eventually(async () => (await client.send("HGET", [key, "spent"])) === "800000000", 5000, "the second charge in Redis");
    const sentAt = Date.now();
    const error = await refusal(sdk(a, KEY_B, user));
    const answeredAt = Date.now();
    expect(error.message).toContain("your user: $0.80 per month");
    const retryAfter = Number(error.headers?.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil(msToWindowEnd("month", answeredAt) / 1000) - 1);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(msToWindowEnd("month", sentAt) / 1000) + 1);
    // Expires an hour after the month ends, not before.
    const ttl = Number(await client.send("PTTL", [key]));
    expect(ttl).toBeGreaterThan(msToWindowEnd("month", Date.now()));
    expect(ttl).toBeLessThanOrEqual(msToWindowEnd("month", sentAt) + 3_600_000);
  });
});
