import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { chatBody, expectOpenAIError, postJson, readBody } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { makeTempDir, removeTempDirs, startProxy, type ProxyHandle } from "./support/proxy";

/** Limits on one instance, kept in memory (the embedded default). */
let mock: MockBackend;
beforeAll(() => {
  mock = startMock("limits");
});
afterAll(async () => {
  await mock.stop();
  removeTempDirs();
});

const KEY_A = "ck-limits-team-a-0000000000000000";
const KEY_B = "ck-limits-team-b-0000000000000000";

const limitsConfig = (limits: Record<string, unknown>, keyLimits?: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  endpoints: { gpt: { url: mock.url, apiKey: "sk-backend-limits-000000" }, other: { url: mock.url } },
  clientKeys: [
    { key: KEY_A, name: "team-a", ...(keyLimits && { limits: keyLimits }) },
    { key: KEY_B, name: "team-b" },
  ],
  limits,
  ...top,
});

/** A chat answer that used `total` tokens. */
const usage = (total: number) => ({ id: "c", choices: [], usage: { prompt_tokens: total - 1, completion_tokens: 1, total_tokens: total } });

async function proxyWith(limits: Record<string, unknown>, keyLimits: Record<string, unknown> | undefined = undefined): Promise<ProxyHandle> {
  mock.reset();
  return startProxy(limitsConfig(limits, keyLimits));
}

const send = (proxy: ProxyHandle, key = KEY_A, model = "gpt", headers: Record<string, string> = {}) =>
  postJson(proxy.url("/v1/chat/completions"), chatBody(model), { authorization: `Bearer ${key}`, ...headers });

/** Sends `n` requests one after another; the statuses, and the last response. */
async function sendMany(proxy: ProxyHandle, n: number, key = KEY_A, model = "gpt", headers: Record<string, string> = {}) {
  const statuses: number[] = [];
  let last!: Response;
  for (let i = 0; i < n; i++) {
    last = await send(proxy, key, model, headers);
    statuses.push(last.status);
    if (i < n - 1) await last.arrayBuffer();
  }
  return { statuses, last };
}

describe("requests per minute", () => {
  test("rpm 5: five pass (with OpenAI's headers counting down), the sixth is a 429 naming the limit, with Retry-After", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 5 } });
    try {
      const remaining: string[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await send(proxy);
        expect(response.status).toBe(200);
        expect(response.headers.get("x-ratelimit-limit-requests")).toBe("5");
        remaining.push(response.headers.get("x-ratelimit-remaining-requests")!);
        expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(ms|s)$|^\d+m\d+s$/);
        await response.arrayBuffer();
      }
      expect(remaining).toEqual(["4", "3", "2", "1", "0"]);
      const refused = await send(proxy);
      const error = await expectOpenAIError(refused, 429, { type: "rate_limit_error", code: "rate_limit_exceeded" });
      expect(error.message).toContain("team-a");
      expect(error.message).toContain("requests per minute");
      expect(error.message).not.toContain(KEY_A);
      expect(Number(refused.headers.get("retry-after"))).toBe(12); // one request every 12 s
      expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(mock.requests.length).toBe(5);
      const metrics = await (await fetch(proxy.url("/metrics"))).text();
      expect(metrics).toContain('cm_proxy_rate_limited_total{scope="client",limit="rpm"} 1');
      expect(metrics).toContain('cm_proxy_requests_total{model="gpt",target="none",code="429"} 1');
      // Another key has its own budget.
      expect((await send(proxy, KEY_B)).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });

  test("a refused request is logged with its 429", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 1 } });
    try {
      await (await send(proxy, KEY_A, "gpt", { "x-request-id": "rl-ok" })).arrayBuffer();
      const refused = await send(proxy, KEY_A, "gpt", { "x-request-id": "rl-refused" });
      expect(refused.status).toBe(429);
      await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes("rl-refused")), 5000, "the refused line");
      const entry = JSON.parse(proxy.log.accessLines.find((line) => line.includes("rl-refused"))!);
      expect(entry).toMatchObject({ status: 429, model: "gpt", client: "team-a" });
    } finally {
      await proxy.stop();
    }
  });

  test("the window refills: rpm 60 gives one more request a second after a full burst", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 60 } });
    try {
      // All at once, so the burst is over long before a second has refilled anything.
      const burstStart = performance.now();
      const responses = await Promise.all(Array.from({ length: 61 }, () => send(proxy)));
      const statuses = await Promise.all(responses.map(async (response) => (await response.arrayBuffer(), response.status)));
      expect(statuses.filter((status) => status === 200).length).toBe(60);
      expect(statuses.filter((status) => status === 429).length).toBe(1);
      let status = 429;
      for (let i = 0; i < 200 && status === 429; i++) {
        await Bun.sleep(25); // bounded poll of a one-second refill (no event exists for time passing)
        const response = await send(proxy);
        status = response.status;
        await response.arrayBuffer();
      }
      expect(status).toBe(200);
      // The first of the 60 was admitted after the burst started: one more is due a second after it.
      expect(performance.now() - burstStart).toBeGreaterThanOrEqual(990);
    } finally {
      await proxy.stop();
    }
  });

  test("a key's own limits override perClient field by field; per model and per user apply across keys", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 2 }, perUser: { rpm: 3 }, perModel: { other: { rpm: 1 } } }, { rpm: 4 });
    try {
      expect((await sendMany(proxy, 5, KEY_A)).statuses).toEqual([200, 200, 200, 200, 429]);
      expect((await sendMany(proxy, 3, KEY_B)).statuses).toEqual([200, 200, 429]);
    } finally {
      await proxy.stop();
    }
    const users = await proxyWith({ perUser: { rpm: 2 } });
    try {
      const alice = { "x-openwebui-user-id": "alice" };
      expect((await sendMany(users, 2, KEY_A, "gpt", alice)).statuses).toEqual([200, 200]);
      const refused = await send(users, KEY_B, "gpt", alice); // another key, the same user
      expect(refused.status).toBe(429);
      expect((await refused.json()).error.message).toContain("your user");
      expect((await send(users, KEY_B, "gpt", { "x-openwebui-user-id": "bob" })).status).toBe(200);
      expect((await send(users, KEY_B)).status).toBe(200); // no user header: not user-limited
    } finally {
      await users.stop();
    }
    const models = await proxyWith({ perModel: { other: { rpm: 1 } } });
    try {
      expect((await sendMany(models, 1, KEY_A, "other")).statuses).toEqual([200]);
      const refused = await send(models, KEY_B, "other");
      expect(refused.status).toBe(429);
      expect((await refused.json()).error.message).toContain("the model 'other'");
      expect((await send(models, KEY_B, "gpt")).status).toBe(200);
    } finally {
      await models.stop();
    }
  });

  test("/models is never limited", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 1 } });
    try {
      await (await send(proxy)).arrayBuffer();
      for (let i = 0; i < 5; i++) {
        const models = await fetch(proxy.url("/v1/models"), { headers: { authorization: `Bearer ${KEY_A}` } });
        expect(models.status).toBe(200);
        await models.arrayBuffer();
      }
    } finally {
      await proxy.stop();
    }
  });
});

describe("tokens", () => {
  test("tpm 100: charged after each answer; reaching 100 exactly is allowed, the next request is refused", async () => {
    const proxy = await proxyWith({ perClient: { tpm: 100 } });
    try {
      mock.willReply(reply.json(usage(50)));
      const first = await send(proxy);
      expect(first.status).toBe(200);
      expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe("100");
      await first.arrayBuffer();
      await proxy.log.until(() => proxy.log.accessLines.length >= 1, 5000, "the first request ending");
      const second = await send(proxy);
      expect(second.status).toBe(200);
      expect(second.headers.get("x-ratelimit-remaining-tokens")).toBe("50");
      await second.arrayBuffer();
      await proxy.log.until(() => proxy.log.accessLines.length >= 2, 5000, "the second request ending");
      const third = await send(proxy);
      await expectOpenAIError(third, 429, { code: "rate_limit_exceeded" });
      expect(third.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // An answer without usage charges nothing: another key is unaffected and pays nothing.
      mock.willReply(reply.json({ id: "c", choices: [] }));
      const { statuses } = await sendMany(proxy, 3, KEY_B);
      expect(statuses).toEqual([200, 200, 200]);
    } finally {
      await proxy.stop();
    }
  });

  test("a running stream is never cut by its own tokens; the next request pays", async () => {
    const proxy = await proxyWith({ perClient: { tpm: 10 } });
    try {
      const chunks = [
        'data: {"choices":[{"index":0,"delta":{"content":"a long answer"},"finish_reason":null}]}\n\n',
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
        'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":45,"total_tokens":50}}\n\n',
        "data: [DONE]\n\n",
      ];
      mock.willReply(reply.sse(chunks));
      const stream = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), { authorization: `Bearer ${KEY_A}` });
      expect(stream.status).toBe(200);
      const { text } = await readBody(stream);
      expect(text).toContain("[DONE]");
      await proxy.log.until(() => proxy.log.accessLines.length >= 1, 5000, "the stream ending");
      expect((await send(proxy)).status).toBe(429);
    } finally {
      await proxy.stop();
    }
  });

  test("tokensPerDay: spent across requests, refused once spent, Retry-After is the time to 00:00 UTC", async () => {
    const proxy = await proxyWith({ perClient: { tokensPerDay: 30 } });
    try {
      mock.willReply(reply.json(usage(20)));
      for (let i = 1; i <= 2; i++) {
        const response = await send(proxy);
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        await proxy.log.until(() => proxy.log.accessLines.length >= i, 5000, `request ${i} ending`);
      }
      const refused = await send(proxy);
      const error = await expectOpenAIError(refused, 429, { code: "rate_limit_exceeded" });
      expect(error.message).toContain("tokens per day");
      const midnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
      expect(Math.abs(Number(refused.headers.get("retry-after")) - midnight)).toBeLessThanOrEqual(2);
    } finally {
      await proxy.stop();
    }
  });
});

describe("tokensPerDay across a restart", () => {
  test("an instance without Redis reads the day's tokens back from the usage store", async () => {
    const config = limitsConfig({ perClient: { tokensPerDay: 30 } }, undefined, { usage: { path: join(makeTempDir("limits-usage"), "usage.db") } });
    mock.reset();
    mock.willReply(reply.json(usage(20)));
    const first = await startProxy(config, { label: "before the restart" });
    try {
      for (let i = 1; i <= 2; i++) {
        const response = await send(first);
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        await first.log.until(() => first.log.accessLines.length >= i, 5000, `request ${i} ending`);
      }
    } finally {
      await first.stop();
    }
    const second = await startProxy(config, { label: "after the restart" });
    try {
      await expectOpenAIError(await send(second), 429, { code: "rate_limit_exceeded", messageIncludes: ["tokens per day"] });
      expect((await send(second, KEY_B)).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});

describe("concurrency", () => {
  test("concurrent 2: a third request at once gets 429 with Retry-After 1; when one ends a new one passes", async () => {
    const proxy = await proxyWith({ perClient: { concurrent: 2 } });
    try {
      mock.willReply(reply.sse(['data: {"choices":[{"delta":{"content":"x"}}]}\n\n'], { stallAfter: 1 }));
      const open = [await send(proxy), await send(proxy)];
      for (const response of open) expect(response.status).toBe(200);
      const refused = await send(proxy);
      const error = await expectOpenAIError(refused, 429, { code: "rate_limit_exceeded" });
      expect(error.message).toContain("requests at once");
      expect(refused.headers.get("retry-after")).toBe("1");
      await open[0]!.body!.cancel();
      await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes('"outcome":"client_aborted"')), 5000, "the cancelled stream ending");
      mock.willReply(reply.json({ id: "ok", choices: [] }));
      expect((await send(proxy)).status).toBe(200);
    } finally {
      mock.reset();
      await proxy.stop();
    }
  });
});

describe("/health shows the use of each limit", () => {
  test("per client key and per model, with what is left", async () => {
    const proxy = await proxyWith({ perClient: { rpm: 10 }, perModel: { gpt: { concurrent: 4 } } });
    try {
      await (await sendMany(proxy, 3)).last.arrayBuffer();
      const health = await (await fetch(proxy.url("/health"))).json();
      expect(health.status).toBe("ok");
      expect(health.limits).toEqual([
        { scope: "client", subject: "team-a", limit: "rpm", max: 10, used: 3, remaining: 7, resetMs: expect.any(Number) },
        { scope: "client", subject: "team-b", limit: "rpm", max: 10, used: 0, remaining: 10, resetMs: 0 },
        { scope: "model", subject: "gpt", limit: "concurrent", max: 4, used: 0, remaining: 4, resetMs: 0 },
      ]);
      // The status page's data carries the same figures.
      const status = await (await fetch(proxy.url("/status.json"))).json();
      expect(status.limits.map(({ resetMs, ...use }: { resetMs: number }) => use)).toEqual(
        health.limits.map(({ resetMs, ...use }: { resetMs: number }) => use),
      );
    } finally {
      await proxy.stop();
    }
  });
});
