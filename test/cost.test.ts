// Prices and cost, black box: the openai (and Anthropic) SDK talks to an in-process proxy, the mocks
// report known usage, and the cost is read back where usage shows: the usage row (SQLite), the
// access line, /usage (JSON, CSV, per hour), the metrics (checked by promtool) and /status.json.
// Configured prices (a target's over its endpoint's), the built-in table for well-known backend
// model names and discovered ones, stream and non-stream costing the same on every provider, an
// unpriced model (null, counted, warned once), and --check-config on prices.
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import OpenAI from "openai";
import { BUILT_IN_PRICES } from "../src/pricing/price-table";
import { anthropicReply, startMockAnthropic, type MockAnthropic } from "./support/mock-anthropic";
import { reply, startMock, type MockBackend, type RecordedRequest } from "./support/mock-backend";
import { geminiReply, mockUsage, startMockGemini, type MockGemini } from "./support/mock-gemini";
import { BUN, CLI_ENTRY, cleanEnv, runToExit } from "./support/process";
import { promtool } from "./support/promtool";
import { CLIENT_KEY, endpointFor, makeTempDir, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";
import { requestEnded, usageRow } from "./support/translated";
import { registerSecret } from "./support/transcript";

const ADMIN_KEY = registerSecret("admin-key-cost-tests-0123456789abcdef", "admin key (cost tests)");
const ANTHROPIC_KEY = registerSecret("sk-ant-cost-test-0123456789-SECRET", "anthropic key (cost tests)");
const GEMINI_KEY = registerSecret("gemini-cost-test-0123456789-SECRET", "gemini key (cost tests)");
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };

/** What the OpenAI-format mock reports for every answer, streamed (when asked for usage) or not. */
const USAGE = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 600 } };

interface Dollars {
  input: number;
  cached?: number | null;
  written?: number | null;
  output: number;
}

/** Dollars, computed here independently of the proxy: per million tokens, prompt tokens read from and written to the cache apart. */
const dollars = (prompt: number, cached: number, completion: number, price: Dollars, written = 0) =>
  ((prompt - cached - written) * price.input + cached * (price.cached ?? price.input) + written * (price.written ?? price.input) + completion * price.output) /
  1e6;

/** The built-in table's price of a backend model name, in the shape `dollars` takes. */
function builtIn(name: string): Dollars {
  const price = BUILT_IN_PRICES.lookup(name);
  if (!price) throw new Error(`the built-in table has no price for ${name}`);
  return { input: price.inputPerMTok, cached: price.cachedInputPerMTok, written: price.cacheWriteInputPerMTok, output: price.outputPerMTok };
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;

/** An OpenAI-compatible backend: `/v1/models` lists `listed`; chat answers carry USAGE, in a stream only when asked for it. */
const openAIBackend =
  (listed: string[] = []) =>
  (request: RecordedRequest) => {
    if (request.pathname.endsWith("/models")) return reply.json({ object: "list", data: listed.map((id) => ({ id, object: "model" })) });
    const body = request.json();
    if (!body.stream) {
      return reply.json({
        id: "chatcmpl-cost",
        object: "chat.completion",
        created: 1,
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }],
        usage: USAGE,
      });
    }
    const usage = body.stream_options?.include_usage
      ? [`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [], usage: USAGE })}\n\n`]
      : [];
    return reply.sse([chunk({ role: "assistant", content: "Hel" }), chunk({ content: "lo" }), chunk({}, "stop"), ...usage, "data: [DONE]\n\n"]);
  };

let backend: MockBackend;
let anthropic: MockAnthropic;
let gemini: MockGemini;
let proxy: ProxyHandle;
let client: OpenAI;

const PRICE = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3 };

beforeAll(async () => {
  backend = startMock("cost-backend");
  anthropic = startMockAnthropic(ANTHROPIC_KEY);
  gemini = startMockGemini(GEMINI_KEY);
  backend.willReply(openAIBackend(["gpt-4o-mini", "house-discovered-1b"]));
  proxy = await startProxy(
    {
      endpoints: {
        priced: endpointFor(backend, { actualModelName: "house-model-7b", price: PRICE }),
        inherits: { price: { inputPerMTok: 1, outputPerMTok: 2 }, targets: [{ name: "inherits-main", url: backend.url, actualModelName: "house-model-7b" }] },
        overrides: {
          price: { inputPerMTok: 1, outputPerMTok: 2 },
          targets: [{ name: "overrides-main", url: backend.url, actualModelName: "gpt-4o-mini", price: { inputPerMTok: 4, outputPerMTok: 8 } }],
        },
        mini: endpointFor(backend, { actualModelName: "gpt-4o-mini" }),
        local: endpointFor(backend, { actualModelName: "house-llama-3b" }),
        claude: { provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-sonnet-4-5" },
        "claude-contract": {
          provider: "anthropic",
          url: anthropic.url,
          apiKey: ANTHROPIC_KEY,
          actualModelName: "claude-sonnet-4-5",
          price: { inputPerMTok: 2, outputPerMTok: 10, cachedInputPerMTok: 0.2, cacheWriteInputPerMTok: 2.5 },
        },
        flash: { provider: "gemini", url: gemini.url, apiKey: GEMINI_KEY, actualModelName: "gemini-2.5-flash" },
        found: { url: backend.url, discover: { prefix: "found/" } },
        "found-priced": { url: backend.url, discover: { prefix: "fixed/", include: ["house-*"] }, price: { inputPerMTok: 0.5, outputPerMTok: 0.5 } },
      },
      clientKeys: [{ key: CLIENT_KEY, name: "alice" }],
      adminKey: ADMIN_KEY,
    },
    { label: "cost proxy log" },
  );
  client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => {
  backend.requests.length = 0;
  anthropic.reset();
  gemini.reset();
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.all([backend.stop(), anthropic.stop(), gemini.stop()]);
  removeTempDirs();
});

/** A chat request through the openai SDK, streamed or not, read to its end; its usage row and access line. */
async function chat(model: string, stream: boolean) {
  const messages = [{ role: "user" as const, content: "Hi" }];
  let response: Response;
  if (stream) {
    const answer = await client.chat.completions.create({ model, messages, stream: true }).withResponse();
    for await (const _ of answer.data) {
    }
    response = answer.response;
  } else {
    response = (await client.chat.completions.create({ model, messages }).withResponse()).response;
  }
  const id = await requestEnded(proxy, response);
  const access = JSON.parse(proxy.log.accessLines.find((line) => line.includes(`"requestId":"${id}"`))!);
  return { id, row: await usageRow(proxy, id), access };
}

describe("the cost of a request", () => {
  test("from a configured price: uncached prompt at the input price, cached at the cached-input price, completion at the output price", async () => {
    const { row, access } = await chat("priced", false);
    const expected = dollars(1000, 600, 200, { input: 3, cached: 0.3, output: 15 });
    expect(expected).toBeCloseTo(0.00438, 15);
    expect(row).toMatchObject({ model: "priced", prompt_tokens: 1000, completion_tokens: 200, price_source: "config", key_id: null, client: "alice" });
    expect(row.cost_usd).toBeCloseTo(expected, 15);
    expect(access.costUsd).toBeCloseTo(expected, 15);
  });

  test("a configured cacheWriteInputPerMTok prices the prompt tokens a backend wrote to its cache (a negotiated Claude price)", async () => {
    anthropic.willReply(
      anthropicReply.text("Hello", { usage: { input_tokens: 12, cache_read_input_tokens: 900, cache_creation_input_tokens: 100, output_tokens: 40 } }),
    );
    const { row, access } = await chat("claude-contract", false);
    const expected = dollars(1012, 900, 40, { input: 2, cached: 0.2, written: 2.5, output: 10 }, 100);
    expect(row).toMatchObject({ prompt_tokens: 1012, completion_tokens: 40, price_source: "config" });
    expect(row.cost_usd).toBeCloseTo(expected, 15);
    expect(access.costUsd).toBeCloseTo(expected, 15);
  });

  test("a target's price wins over its endpoint's; a target without one takes its endpoint's", async () => {
    const own = await chat("overrides", false);
    expect(own.row.price_source).toBe("config");
    expect(own.row.cost_usd).toBeCloseTo(dollars(1000, 600, 200, { input: 4, output: 8 }), 15);
    const inherited = await chat("inherits", false);
    expect(inherited.row.cost_usd).toBeCloseTo(dollars(1000, 600, 200, { input: 1, output: 2 }), 15);
  });

  test("from the built-in table, for a well-known backend model name (gpt-4o-mini)", async () => {
    const { row, access } = await chat("mini", false);
    const expected = dollars(1000, 600, 200, builtIn("gpt-4o-mini"));
    expect(expected).toBeGreaterThan(0);
    expect(row.price_source).toBe("built-in");
    expect(row.cost_usd).toBeCloseTo(expected, 15);
    expect(access.costUsd).toBeCloseTo(expected, 15);
  });

  test("a discovered model is priced from the built-in table by its backend id, or by its source's configured price", async () => {
    const discovered = await chat("found/gpt-4o-mini", false);
    expect(discovered.row.price_source).toBe("built-in");
    expect(discovered.row.cost_usd).toBeCloseTo(dollars(1000, 600, 200, builtIn("gpt-4o-mini")), 15);
    const unknown = await chat("found/house-discovered-1b", false);
    expect(unknown.row).toMatchObject({ cost_usd: null, price_source: null });
    const configured = await chat("fixed/house-discovered-1b", false);
    expect(configured.row.price_source).toBe("config");
    expect(configured.row.cost_usd).toBeCloseTo(dollars(1000, 600, 200, { input: 0.5, output: 0.5 }), 15);
  });
});

describe("streamed or not, the same request costs the same", () => {
  test("OpenAI-compatible backends, with a configured and a built-in price (the proxy asks the stream for its usage itself)", async () => {
    for (const model of ["priced", "mini"]) {
      const whole = await chat(model, false);
      const streamed = await chat(model, true);
      expect(backend.requests.at(-1)!.json().stream_options).toEqual({ include_usage: true });
      expect(streamed.row).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200, price_source: whole.row.price_source });
      expect(whole.row.cost_usd).toBeGreaterThan(0);
      expect(Math.abs(streamed.row.cost_usd - whole.row.cost_usd)).toBeLessThan(1e-8);
      expect(Math.abs(streamed.access.costUsd - whole.access.costUsd)).toBeLessThan(1e-8);
    }
  });

  test("an Anthropic backend (claude-sonnet-4-5, built-in): cache reads at the cached-input price, cache writes at the cache-write price", async () => {
    anthropic.willReply(
      anthropicReply.text("Hello", { usage: { input_tokens: 12, cache_read_input_tokens: 900, cache_creation_input_tokens: 100, output_tokens: 40 } }),
    );
    const whole = await chat("claude", false);
    const streamed = await chat("claude", true);
    const price = builtIn("claude-sonnet-4-5");
    // Anthropic bills a cache write at 1.25 times the input price: pricing it as input undercounts.
    expect(price.written).toBe(price.input * 1.25);
    const expected = dollars(1012, 900, 40, price, 100);
    expect(expected).toBeGreaterThan(dollars(1012, 900, 40, { ...price, written: null }, 100));
    for (const { row } of [whole, streamed]) {
      expect(row).toMatchObject({ prompt_tokens: 1012, completion_tokens: 40, price_source: "built-in" });
      expect(row.cost_usd).toBeCloseTo(expected, 15);
    }
    expect(Math.abs(streamed.row.cost_usd - whole.row.cost_usd)).toBeLessThan(1e-8);
  });

  test("a Gemini backend (gemini-2.5-flash, built-in): cachedContentTokenCount priced as cached, thoughts as output", async () => {
    gemini.willReply(geminiReply.text("Hello", { usage: mockUsage(800, 50, 10, 500) }));
    const whole = await chat("flash", false);
    const streamed = await chat("flash", true);
    const expected = dollars(800, 500, 60, builtIn("gemini-2.5-flash"));
    for (const { row } of [whole, streamed]) {
      expect(row).toMatchObject({ prompt_tokens: 800, completion_tokens: 60, price_source: "built-in" });
      expect(row.cost_usd).toBeCloseTo(expected, 15);
    }
    expect(Math.abs(streamed.row.cost_usd - whole.row.cost_usd)).toBeLessThan(1e-8);
  });

  test("Anthropic's Messages API relayed natively (the Anthropic SDK as client): the same cost as the chat translation", async () => {
    anthropic.willReply(
      anthropicReply.text("Hello", { usage: { input_tokens: 12, cache_read_input_tokens: 900, cache_creation_input_tokens: 100, output_tokens: 40 } }),
    );
    const messagesClient = new Anthropic({ baseURL: proxy.url(""), apiKey: CLIENT_KEY, maxRetries: 0 });
    const params = { model: "claude", max_tokens: 100, messages: [{ role: "user" as const, content: "Hi" }] };
    const whole = await messagesClient.messages.create(params).withResponse();
    const streamed = await messagesClient.messages.create({ ...params, stream: true }).withResponse();
    for await (const _ of streamed.data) {
    }
    const expected = dollars(1012, 900, 40, builtIn("claude-sonnet-4-5"), 100);
    for (const response of [whole.response, streamed.response]) {
      const row = await usageRow(proxy, await requestEnded(proxy, response));
      expect(row).toMatchObject({ prompt_tokens: 1012, completion_tokens: 40, price_source: "built-in" });
      expect(row.cost_usd).toBeCloseTo(expected, 15);
    }
  });
});

describe("a model with no price", () => {
  test("costs null (never 0) in its row and access line, is counted in cm_proxy_unpriced_requests_total and warned about once", async () => {
    const first = await chat("local", false);
    const second = await chat("local", true);
    for (const { row, access } of [first, second]) {
      expect(row).toMatchObject({ prompt_tokens: 1000, cost_usd: null, price_source: null });
      expect(access.costUsd).toBeNull();
    }
    const warnings = proxy.log.lines.filter((line) => line.startsWith("WARN") && line.includes("'local' has no price"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`set "price" on its endpoint`);

    const metrics = await (await fetch(proxy.url("/metrics"), { headers: asAdmin })).text();
    const samples = metrics.split("\n").filter((line) => line.startsWith("cm_proxy_unpriced_requests_total") || line.startsWith("cm_proxy_cost_usd_total"));
    expect(samples).toContain('cm_proxy_unpriced_requests_total{model="local"} 2');
    expect(samples.some((line) => line.startsWith('cm_proxy_cost_usd_total{model="local"}'))).toBe(false);
    const priced = samples.find((line) => line.startsWith('cm_proxy_cost_usd_total{model="priced"}'));
    expect(Number(priced?.split(" ")[1])).toBeGreaterThan(0);
    expect(await promtool(metrics)).toEqual({ code: 0, output: expect.any(String) });
  });
});

describe("/usage", () => {
  const usage = async (query: string) => fetch(proxy.url(`/usage?${query}`), { headers: asAdmin });

  test("costUsd per group, the sum of its priced requests; null for a group none of whose requests was priced", async () => {
    const before = (await (await usage("groupBy=model")).json()).groups as { key: string; costUsd: number | null; requests: number }[];
    const costOf = (groups: typeof before, key: string) => groups.find((group) => group.key === key)?.costUsd ?? null;
    const [a, b] = [await chat("priced", false), await chat("priced", true)];
    await chat("local", false);
    const after = (await (await usage("groupBy=model")).json()).groups as typeof before;
    expect(costOf(after, "priced")! - (costOf(before, "priced") ?? 0)).toBeCloseTo(a.row.cost_usd + b.row.cost_usd, 12);
    expect(costOf(after, "local")).toBeNull();
    expect(after.find((group) => group.key === "local")!.requests).toBeGreaterThan(0);

    const csv = await (await usage("groupBy=model&format=csv")).text();
    const [header, ...lines] = csv.trimEnd().split("\r\n");
    expect(header).toBe("key,requests,errors,promptTokens,completionTokens,totalTokens,costUsd,p50Ms,p95Ms");
    const fields = (key: string) => lines.find((line) => line.startsWith(`${key},`))!.split(",");
    expect(Number(fields("priced")[6])).toBeCloseTo(costOf(after, "priced")!, 12);
    expect(fields("local")[6]).toBe("");
  });

  test("groupBy=hour: one group per UTC hour, keyed YYYY-MM-DDTHH, with its cost", async () => {
    const { row } = await chat("priced", false);
    const hour = new Date(row.ts).toISOString().slice(0, 13);
    const answer = await (await usage("groupBy=hour")).json();
    expect(answer.groupBy).toBe("hour");
    for (const group of answer.groups) expect(group.key).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}$/);
    const current = answer.groups.find((group: { key: string }) => group.key === hour);
    expect(current.requests).toBeGreaterThan(0);
    expect(current.costUsd).toBeGreaterThan(0);
    const bad = await usage("groupBy=minute");
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain("day, hour, model, client, user, target");
  });
});

describe("/status.json and prices.builtIn", () => {
  test("names the built-in table; with prices.builtIn false a model the config does not price is unpriced", async () => {
    const status = await (await fetch(proxy.url("/status.json"), { headers: asAdmin })).json();
    expect(status.prices).toEqual({
      builtIn: true,
      source: "@pydantic/genai-prices",
      version: BUILT_IN_PRICES.snapshot.version,
      date: BUILT_IN_PRICES.snapshot.date,
    });

    const off = await startProxy(
      {
        endpoints: { mini: endpointFor(backend, { actualModelName: "gpt-4o-mini" }), priced: endpointFor(backend, { actualModelName: "x", price: PRICE }) },
        prices: { builtIn: false },
      },
      { label: "prices.builtIn false proxy log" },
    );
    try {
      const offClient = new OpenAI({ baseURL: off.url("/v1"), apiKey: "none", maxRetries: 0 });
      const rowFor = async (model: string) => {
        const { response } = await offClient.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] }).withResponse();
        return usageRow(off, await requestEnded(off, response));
      };
      expect(await rowFor("mini")).toMatchObject({ prompt_tokens: 1000, cost_usd: null, price_source: null });
      expect((await rowFor("priced")).price_source).toBe("config");
      expect((await (await fetch(off.url("/status.json"))).json()).prices.builtIn).toBe(false);
    } finally {
      await off.stop();
    }
  });
});

describe("--check-config and prices", () => {
  const check = async (price: Record<string, unknown>) => {
    const dir = makeTempDir("cost-check");
    const path = writeConfig(join(dir, "config.json"), { endpoints: { m: { url: "http://127.0.0.1:9", price } } });
    return runToExit([BUN, CLI_ENTRY, "--check-config", "--config", path], { cwd: dir, env: cleanEnv() });
  };

  test("a negative price is refused, naming the field", async () => {
    const { code, stderr } = await check({ inputPerMTok: -1, outputPerMTok: 15 });
    expect(code).toBe(1);
    expect(stderr).toContain("endpoints.m.price.inputPerMTok");
  });

  test("a price that looks per token (below 0.001) is valid but warned about, naming the field and the per-million value", async () => {
    const { code, stdout, stderr } = await check({ inputPerMTok: 0.000003, outputPerMTok: 15, cachedInputPerMTok: 0 });
    expect(code).toBe(0);
    expect(stdout).toContain("valid, 1 models");
    expect(stderr).toContain("endpoints.m.price.inputPerMTok: 0.000003 looks like a price per token");
    expect(stderr).toContain("(3 for $0.000003 a token)");
    expect(stderr).not.toContain("outputPerMTok");
    expect(stderr).not.toContain("cachedInputPerMTok"); // 0 is a price: free cache reads
  });
});
