// Budgets in dollars (usdPerDay, usdPerMonth) on one instance, kept in memory: a priced mock model
// behind the proxy, the official openai SDK as the client. Every request costs $0.40 (200 prompt
// tokens at $1000 per million, 100 completion tokens at $2000 per million), so a budget trips at a
// known request. The proxy's clock cannot be moved: Retry-After is checked against the end of the
// UTC day or month computed from this clock around the request (the window arithmetic itself, with
// injected times, is in src/limits/calendar.test.ts and the counters contract).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import { msToWindowEnd, type Period } from "../src/limits/calendar";
import { chatBody, expectOpenAIError, postJson, readBody } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { BUN, CLI_ENTRY, cleanEnv, runToExit } from "./support/process";
import { makeTempDir, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";

let mock: MockBackend;
beforeAll(() => {
  mock = startMock("budgets");
});
afterAll(async () => {
  await mock.stop();
  removeTempDirs();
});

const KEY_A = "ck-budgets-team-a-000000000000000";
const KEY_B = "ck-budgets-team-b-000000000000000";
const PRICE = { inputPerMTok: 1000, outputPerMTok: 2000 };
/** What every answer of the mock costs: 200 × $1000/M + 100 × $2000/M. */
const COST = 0.4;
const USAGE = { prompt_tokens: 200, completion_tokens: 100, total_tokens: 300 };

function budgetConfig(limits: Record<string, unknown>, keyLimits?: Record<string, unknown>, top: Record<string, unknown> = {}) {
  return {
    endpoints: {
      gpt: { url: mock.url, apiKey: "sk-backend-budgets-0000", price: PRICE },
      other: { url: mock.url, price: PRICE },
      // No price in the config, and a backend name no built-in table knows: its requests cost null.
      unpriced: { url: mock.url, actualModelName: "cm-test-unpriced-model-zz9" },
    },
    clientKeys: [
      { key: KEY_A, name: "team-a", ...(keyLimits && { limits: keyLimits }) },
      { key: KEY_B, name: "team-b" },
    ],
    limits,
    ...top,
  };
}

async function proxyWith(limits: Record<string, unknown>, keyLimits?: Record<string, unknown>): Promise<ProxyHandle> {
  mock.reset();
  mock.willReply(reply.json({ id: "c", object: "chat.completion", choices: [], usage: USAGE }));
  return startProxy(budgetConfig(limits, keyLimits));
}

const sdk = (proxy: ProxyHandle, key = KEY_A, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: proxy.url("/v1"), apiKey: key, defaultHeaders: headers, maxRetries: 0 });

const ask = (client: OpenAI, model = "gpt") => client.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] });

/** One request through the SDK, answered and charged (its access line written) before it returns. */
async function spend(proxy: ProxyHandle, client: OpenAI, model = "gpt"): Promise<void> {
  const before = proxy.log.accessLines.length;
  await ask(client, model);
  await proxy.log.until(() => proxy.log.accessLines.length > before, 5000, "the request ending");
}

/** The SDK's error for a request the proxy refused. */
async function refused(client: OpenAI, model = "gpt"): Promise<InstanceType<typeof OpenAI.RateLimitError>> {
  const error = await ask(client, model).then(
    () => null,
    (caught) => caught,
  );
  expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  return error;
}

/**
 * Retry-After is the time to the end of the window, in whole seconds rounded up: between what is
 * left after the answer and what was left before the request, within a second's boundary.
 */
function expectRetryAfterToEndOf(period: Period, retryAfter: string | null | undefined, sentAt: number, answeredAt: number): void {
  const seconds = Number(retryAfter);
  expect(Number.isInteger(seconds)).toBe(true);
  expect(seconds).toBeGreaterThanOrEqual(Math.ceil(msToWindowEnd(period, answeredAt) / 1000) - 1);
  expect(seconds).toBeLessThanOrEqual(Math.ceil(msToWindowEnd(period, sentAt) / 1000) + 1);
}

describe("budgets in dollars", () => {
  test("perClient usdPerDay $1.20: the third $0.40 request reaches it and is the last; the fourth is a 429 insufficient_quota with Retry-After to 00:00 UTC", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 1.2 } });
    try {
      const client = sdk(proxy);
      for (let i = 0; i < 3; i++) await spend(proxy, client);
      expect(mock.requests.length).toBe(3);
      const sentAt = Date.now();
      const error = await refused(client);
      const answeredAt = Date.now();
      expect(error.status).toBe(429);
      expect(error.type).toBe("insufficient_quota");
      expect(error.code).toBe("insufficient_quota");
      expect(error.message).toContain("the API key 'team-a'");
      expect(error.message).toContain("$1.20 per day");
      expect(error.message).not.toContain(KEY_A);
      expectRetryAfterToEndOf("day", error.headers?.get("retry-after"), sentAt, answeredAt);
      // It renews at 00:00 UTC, named in the message.
      const midnight = new Date(Math.floor(answeredAt / 86_400_000 + 1) * 86_400_000).toISOString().replace(".000Z", "Z");
      expect(error.message).toContain(midnight);
      // A budget is no rate: none of the rate headers, and OpenAI's SDKs are told not to retry.
      expect(error.headers?.get("x-should-retry")).toBe("false");
      expect([...(error.headers?.keys() ?? [])].filter((name) => name.startsWith("x-ratelimit"))).toEqual([]);
      expect(mock.requests.length).toBe(3);
      const metrics = await (await fetch(proxy.url("/metrics"))).text();
      expect(metrics).toContain('cm_proxy_rate_limited_total{scope="client",limit="usdPerDay"} 1');
      // Another key has a budget of its own.
      await spend(proxy, sdk(proxy, KEY_B));
    } finally {
      await proxy.stop();
    }
  });

  test("the SDK with its default retries asks once: x-should-retry: false", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 0 } });
    try {
      const client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: KEY_A });
      expect((await refused(client)).code).toBe("insufficient_quota");
      await proxy.log.until(() => proxy.log.accessLines.length >= 1, 5000, "the refusal's access line");
      expect(proxy.log.accessLines.length).toBe(1);
      expect(mock.requests.length).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  test("the raw 429: OpenAI's error shape, status and headers", async () => {
    const proxy = await proxyWith({ perClient: { usdPerMonth: 0 } });
    try {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), { authorization: `Bearer ${KEY_A}` });
      const error = await expectOpenAIError(response, 429, { type: "insufficient_quota", code: "insufficient_quota", param: null });
      expect(error.message).toBe(
        `Budget spent for the API key 'team-a': $0.00 per month (UTC). It renews at ${nextFirstOfMonth(Date.now()).replace(".000Z", "Z")}.`,
      );
    } finally {
      await proxy.stop();
    }
  });

  test("perUser usdPerMonth $0.80: one Open WebUI user's spend counts across keys; Retry-After to 00:00 UTC on the 1st; another user is not affected", async () => {
    const proxy = await proxyWith({ perUser: { usdPerMonth: 0.8 } });
    try {
      const user = { "x-openwebui-user-id": "user-42" };
      await spend(proxy, sdk(proxy, KEY_A, user));
      await spend(proxy, sdk(proxy, KEY_B, user));
      const sentAt = Date.now();
      const error = await refused(sdk(proxy, KEY_A, user));
      const answeredAt = Date.now();
      expect(error.code).toBe("insufficient_quota");
      expect(error.message).toContain("your user");
      expect(error.message).toContain("$0.80 per month");
      expect(error.message).not.toContain("user-42");
      expectRetryAfterToEndOf("month", error.headers?.get("retry-after"), sentAt, answeredAt);
      await spend(proxy, sdk(proxy, KEY_A, { "x-openwebui-user-id": "user-7" }));
      // Without a user, no user budget applies.
      await spend(proxy, sdk(proxy, KEY_A));
    } finally {
      await proxy.stop();
    }
  });

  test("perModel usdPerDay $0.40: one request spends the model's day, for every key; other models are not affected", async () => {
    const proxy = await proxyWith({ perModel: { gpt: { usdPerDay: 0.4 } } });
    try {
      await spend(proxy, sdk(proxy, KEY_A));
      const error = await refused(sdk(proxy, KEY_B));
      expect(error.code).toBe("insufficient_quota");
      expect(error.message).toContain("the model 'gpt'");
      expect(error.message).toContain("$0.40 per day");
      await spend(proxy, sdk(proxy, KEY_B), "other");
    } finally {
      await proxy.stop();
    }
  });

  test("a fallback model's own budget: it admits and is charged what the fallback served, and is kept after a restart", async () => {
    const usagePath = join(makeTempDir("budgets-fallback"), "usage.db");
    const config = {
      ...budgetConfig({ perModel: { opus: { usdPerDay: 0.4 } } }, undefined, { usage: { path: usagePath } }),
      endpoints: {
        gpt: { url: mock.url, actualModelName: "gpt-backend", price: PRICE, fallbacks: ["opus"] },
        opus: { url: mock.url, actualModelName: "opus-backend", price: PRICE },
      },
    };
    mock.reset();
    // gpt's backend is down (a retryable 503); opus answers.
    mock.willReply((request) =>
      request.json().model === "gpt-backend"
        ? reply.json({ error: { message: "overloaded", type: "server_error" } }, { status: 503 })
        : reply.json({ id: "c", object: "chat.completion", choices: [], usage: USAGE }),
    );
    const first = await startProxy(config, { label: "before the restart" });
    try {
      // Served by opus through gpt's fallbacks: charged to opus, whose day it spends.
      await spend(first, sdk(first));
      expect(JSON.parse(first.log.accessLines.at(-1)!)).toMatchObject({ model: "gpt", servedModel: "opus", costUsd: COST });
      const direct = await refused(sdk(first), "opus");
      expect(direct.code).toBe("insufficient_quota");
      expect(direct.message).toContain("the model 'opus'");
      // Through gpt again: opus's spent budget keeps it out of the chain, and gpt's own failure is the answer.
      const sentBefore = mock.requests.filter((request) => request.json().model === "opus-backend").length;
      const response = await postJson(first.url("/v1/chat/completions"), chatBody("gpt"), { authorization: `Bearer ${KEY_A}` });
      expect(response.status).toBe(503);
      await readBody(response);
      expect(mock.requests.filter((request) => request.json().model === "opus-backend").length).toBe(sentBefore);
    } finally {
      await first.stop();
    }
    const second = await startProxy(config, { label: "after the restart" });
    try {
      // The usage store's row says opus served it: opus's day is still spent.
      expect((await refused(sdk(second), "opus")).code).toBe("insufficient_quota");
    } finally {
      await second.stop();
    }
  });

  test("a key's own budget overrides perClient's; a budget of 0 refuses the first request", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 100 } }, { usdPerDay: 0 });
    try {
      const error = await refused(sdk(proxy, KEY_A));
      expect(error.message).toContain("team-a");
      expect(mock.requests.length).toBe(0);
      await spend(proxy, sdk(proxy, KEY_B));
    } finally {
      await proxy.stop();
    }
  });

  test("a day's and a month's budget spent together: the 429 names the month's and waits for the 1st, when the request is admitted again", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: COST, usdPerMonth: COST } });
    try {
      await spend(proxy, sdk(proxy));
      const sentAt = Date.now();
      const error = await refused(sdk(proxy));
      const answeredAt = Date.now();
      expect(error.message).toContain("$0.40 per month");
      expect(error.message).toContain(nextFirstOfMonth(answeredAt).replace(".000Z", "Z"));
      expectRetryAfterToEndOf("month", error.headers?.get("retry-after"), sentAt, answeredAt);
    } finally {
      await proxy.stop();
    }
  });

  test("a stream is charged at its end, as much as the same answer unstreamed", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 0.4 } });
    try {
      mock.willReply(
        reply.sse([
          'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n',
          'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
          `data: ${JSON.stringify({ choices: [], usage: USAGE })}\n\n`,
          "data: [DONE]\n\n",
        ]),
      );
      const stream = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), { authorization: `Bearer ${KEY_A}` });
      expect(stream.status).toBe(200);
      expect((await readBody(stream)).text).toContain("[DONE]");
      await proxy.log.until(() => proxy.log.accessLines.length >= 1, 5000, "the stream ending");
      const health = await (await fetch(proxy.url("/health"))).json();
      expect(health.limits.find((use: any) => use.subject === "team-a")).toMatchObject({ limit: "usdPerDay", max: 0.4, used: COST, remaining: 0 });
      expect((await refused(sdk(proxy))).code).toBe("insufficient_quota");
    } finally {
      await proxy.stop();
    }
  });

  test("a stream the client stops before its usage is charged an estimate: a quarter of the request's characters, a token per piece relayed", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 1 } });
    try {
      const piece = (n: number) => `data: {"choices":[{"index":0,"delta":{"content":"piece-${n} "},"finish_reason":null}]}\n\n`;
      mock.willReply(reply.sse([piece(1), piece(2), piece(3), piece(4)], { stallAfter: 3 }));
      const stream = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), { authorization: `Bearer ${KEY_A}` });
      expect(stream.status).toBe(200);
      const reader = stream.body!.getReader();
      let text = "";
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += new TextDecoder().decode(chunk.value);
        if (text.includes("piece-3")) break;
      }
      await reader.cancel();
      await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes('"outcome":"client_aborted"')), 5000, "the stopped stream ending");
      const promptTokens = Math.ceil(mock.last.body.byteLength / 4);
      const health = await (await fetch(proxy.url("/health"))).json();
      const used = health.limits.find((use: any) => use.subject === "team-a").used;
      expect(used).toBeCloseTo((promptTokens * PRICE.inputPerMTok + 3 * PRICE.outputPerMTok) / 1e6, 9);
      expect(JSON.parse(proxy.log.accessLines.find((line) => line.includes("client_aborted"))!)).toMatchObject({
        promptTokens,
        completionTokens: 3,
      });
    } finally {
      await proxy.stop();
    }
  });

  test("a translated or Messages stream the client stops (or that reports no usage): the input as the backend reported it so far, at least a token per piece relayed", async () => {
    const claudeEvent = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const claude = [
      claudeEvent("message_start", {
        message: { id: "m", type: "message", role: "assistant", model: "c", content: [], usage: { input_tokens: 100, output_tokens: 1 } },
      }),
      claudeEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      ...[0, 1, 2].map((i) => claudeEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: `w${i} ` } })),
    ];
    const gemini = [0, 1, 2].map(
      (i) =>
        `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: `w${i} ` }] }, index: 0 }], usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 1, totalTokenCount: 101 } })}\r\n\r\n`,
    );
    const chat = [0, 1, 2].map((i) => `data: {"choices":[{"index":0,"delta":{"content":"w${i} "},"finish_reason":null}]}\n\n`);
    const proxy = await startProxy({
      endpoints: {
        claude: { provider: "anthropic", url: mock.url, apiKey: "sk-ant-budgets-0000", actualModelName: "claude-x" },
        gem: { provider: "gemini", url: mock.url, apiKey: "gm-budgets-0000", actualModelName: "gemini-x" },
        oai: { url: mock.url, streamUsage: false },
      },
    });
    try {
      for (const [path, model, events, prompt] of [
        ["/v1/chat/completions", "claude", claude, 100],
        ["/v1/messages", "claude", claude, 100],
        ["/v1/messages", "gem", gemini, 100],
        ["/v1/messages", "oai", chat, null],
      ] as const) {
        mock.willReply(reply.sse(events, { stallAfter: events.length }));
        const body = { model, stream: true, max_tokens: 100, messages: [{ role: "user", content: "x" }] };
        const stream = await postJson(proxy.url(path), body, { "anthropic-version": "2023-06-01" });
        expect(stream.status).toBe(200);
        const reader = stream.body!.getReader();
        let text = "";
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          text += new TextDecoder().decode(chunk.value);
          if (text.includes("w2")) break;
        }
        await reader.cancel();
        const id = stream.headers.get("x-request-id")!;
        await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(id)), 5000, `the stopped stream ${path} ${model}`);
        const line = JSON.parse(proxy.log.accessLines.find((line) => line.includes(id))!);
        expect({ path, model, outcome: line.outcome, prompt: line.promptTokens, atLeastThree: line.completionTokens >= 3 }).toEqual({
          path,
          model,
          outcome: "client_aborted",
          prompt: prompt ?? Math.ceil(mock.last.body.byteLength / 4),
          atLeastThree: true,
        });
      }
      // Not stopped, but not asked for usage either (streamUsage false): the same estimate, not an output of 0.
      mock.willReply(reply.sse([...chat, 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n', "data: [DONE]\n\n"]));
      const whole = await postJson(proxy.url("/v1/messages"), { model: "oai", stream: true, max_tokens: 100, messages: [{ role: "user", content: "x" }] });
      const events = (await whole.text()).split("\n").filter((line) => line.startsWith("data: "));
      // The client is told the same: its message_delta counts a token per delta, not 0.
      const delta = events.map((line) => JSON.parse(line.slice(6))).find((event) => event.type === "message_delta");
      expect(delta.usage.output_tokens).toBe(3);
      const id = whole.headers.get("x-request-id")!;
      await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(id)), 5000, "the unreported stream's line");
      expect(JSON.parse(proxy.log.accessLines.find((line) => line.includes(id))!).completionTokens).toBeGreaterThanOrEqual(3);
    } finally {
      await proxy.stop();
    }
  });

  test("a model without a price costs null and charges no budget", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 0.01 } });
    try {
      const client = sdk(proxy);
      for (let i = 0; i < 3; i++) await spend(proxy, client, "unpriced");
      const health = await (await fetch(proxy.url("/health"))).json();
      expect(health.limits.find((use: any) => use.subject === "team-a")).toMatchObject({ used: 0, remaining: 0.01 });
    } finally {
      await proxy.stop();
    }
  });

  test("/health and /status.json show each budget's spend and what is left, in dollars", async () => {
    const proxy = await proxyWith({ perClient: { usdPerDay: 1.2, usdPerMonth: 30 }, perModel: { gpt: { usdPerMonth: 5 } } });
    try {
      await spend(proxy, sdk(proxy));
      const health = await (await fetch(proxy.url("/health"))).json();
      const now = Date.now();
      expect(health.limits).toEqual([
        { scope: "client", subject: "team-a", limit: "usdPerDay", max: 1.2, used: COST, remaining: 0.8, resetMs: expect.any(Number) },
        { scope: "client", subject: "team-a", limit: "usdPerMonth", max: 30, used: COST, remaining: 29.6, resetMs: expect.any(Number) },
        { scope: "client", subject: "team-b", limit: "usdPerDay", max: 1.2, used: 0, remaining: 1.2, resetMs: expect.any(Number) },
        { scope: "client", subject: "team-b", limit: "usdPerMonth", max: 30, used: 0, remaining: 30, resetMs: expect.any(Number) },
        { scope: "model", subject: "gpt", limit: "usdPerMonth", max: 5, used: COST, remaining: 4.6, resetMs: expect.any(Number) },
      ]);
      // Whole again at the end of the UTC day, and of the month.
      expect(Math.abs(health.limits[0].resetMs - msToWindowEnd("day", now))).toBeLessThan(5000);
      expect(Math.abs(health.limits[1].resetMs - msToWindowEnd("month", now))).toBeLessThan(5000);
      const status = await (await fetch(proxy.url("/status.json"))).json();
      const withoutReset = (uses: { resetMs: number }[]) => uses.map(({ resetMs, ...use }) => use);
      expect(withoutReset(status.limits)).toEqual(withoutReset(health.limits));
    } finally {
      await proxy.stop();
    }
  });

  test("a restarted instance without Redis remembers the day's and the month's spend, from the usage store", async () => {
    const usagePath = join(makeTempDir("budgets-usage"), "usage.db");
    const limits = { perClient: { usdPerDay: 0.8 }, perUser: { usdPerMonth: 1 }, perModel: { gpt: { usdPerMonth: 10 } } };
    const config = budgetConfig(limits, undefined, { usage: { path: usagePath } });
    mock.reset();
    mock.willReply(reply.json({ id: "c", object: "chat.completion", choices: [], usage: USAGE }));
    const user = { "x-openwebui-user-id": "user-9" };
    const first = await startProxy(config, { label: "before the restart" });
    try {
      const client = sdk(first, KEY_A, user);
      await spend(first, client);
      await spend(first, client);
      expect((await refused(client)).message).toContain("team-a");
    } finally {
      await first.stop();
    }
    const second = await startProxy(config, { label: "after the restart" });
    try {
      // The key's day: spent.
      expect((await refused(sdk(second))).message).toContain("team-a");
      const health = await (await fetch(second.url("/health"))).json();
      expect(health.limits.find((use: any) => use.scope === "client" && use.subject === "team-a")).toMatchObject({ used: 0.8, remaining: 0 });
      expect(health.limits.find((use: any) => use.scope === "model")).toMatchObject({ subject: "gpt", used: 0.8, remaining: 9.2 });
      // The user's month: $0.80 of $1 spent, so one more request (on another key) is the last.
      const other = sdk(second, KEY_B, user);
      await spend(second, other);
      expect((await refused(other)).message).toContain("your user");
    } finally {
      await second.stop();
    }
  });

  test("after a restart, a config key that took the name of a revoked issued key does not inherit that key's spend", async () => {
    const usagePath = join(makeTempDir("budgets-renamed"), "usage.db");
    const ADMIN_KEY = "admin-budgets-renamed-0123456789abcdef";
    const KEY_C = "ck-budgets-team-c-000000000000000";
    const top = { usage: { path: usagePath }, adminKey: ADMIN_KEY };
    const before = budgetConfig({ perClient: { usdPerDay: 0.8 } }, undefined, top);
    mock.reset();
    mock.willReply(reply.json({ id: "c", object: "chat.completion", choices: [], usage: USAGE }));
    const admin = (proxy: ProxyHandle, path: string, method: string, body?: unknown) =>
      fetch(proxy.url(path), {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const first = await startProxy(before, { label: "with the issued key" });
    try {
      const made = await admin(first, "/admin/keys", "POST", { name: "team-c" });
      expect(made.status).toBe(201);
      const issued = (await made.json()) as { id: string; key: string };
      const client = sdk(first, issued.key);
      await spend(first, client);
      await spend(first, client);
      expect((await refused(client)).message).toContain("team-c");
      expect((await admin(first, `/admin/keys/${issued.id}`, "DELETE")).status).toBe(200);
    } finally {
      await first.stop();
    }
    // The name is free again: the operator gives it to a key in the config file.
    const after = { ...before, clientKeys: [...before.clientKeys, { key: KEY_C, name: "team-c" }] };
    const second = await startProxy(after, { label: "with the config key of the same name" });
    try {
      const client = sdk(second, KEY_C);
      await spend(second, client);
      const health = await (await fetch(second.url("/health"))).json();
      expect(health.limits.find((use: any) => use.scope === "client" && use.subject === "team-c")).toMatchObject({ used: 0.4, remaining: 0.4 });
      await spend(second, client);
      expect((await refused(client)).message).toContain("team-c");
    } finally {
      await second.stop();
    }
  });
});

describe("--check-config", () => {
  test("warns about a budget over a model with no price, naming the model, and still accepts the file", async () => {
    const dir = makeTempDir("budgets-check");
    const path = writeConfig(join(dir, "config.json"), budgetConfig({ perModel: { unpriced: { usdPerDay: 2 }, gpt: { usdPerDay: 2 } } }));
    const { code, stdout, stderr } = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", path], { cwd: dir, env: cleanEnv() });
    expect(code).toBe(0);
    expect(stdout).toContain("valid");
    expect(stderr).toContain("limits.perModel.unpriced: a budget over a model with no price ('unpriced')");
    expect(stderr).not.toContain("limits.perModel.gpt");
  });
});

/** 00:00 UTC on the 1st of the month after `now`, as an ISO string. */
const nextFirstOfMonth = (now: number) => new Date(now + msToWindowEnd("month", now)).toISOString();
