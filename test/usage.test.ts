// Token usage accounting end to end: rows in a real SQLite file (temp dirs) for every model
// request, `/usage` and its groupings and CSV, retention, usage off, a corrupt file at start-up,
// and the stream-usage injection leaving the client's stream byte-identical.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync } from "node:zlib";
import { ConfigError } from "../src/config/load";
import { startServer } from "../src/server/start";
import { nearestRank } from "../src/observe/usage/query";
import { UsageStoreError } from "../src/observe/usage/store";
import { CapturingLogger } from "./support/logger";
import { chatBody, concat, expectOpenAIError, postJson, readBody } from "./support/http";
import { reply, startMock, type MockBackend, type RecordedRequest } from "./support/mock-backend";
import { endpointFor, makeTempDir, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";

const ADMIN_KEY = "admin-key-usage-tests-0123456789";
const ALICE_KEY = "client-key-alice-0123456789abcdef";
const BOB_KEY = "client-key-bob-0123456789abcdef01";
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };

let alpha: MockBackend;
let bravo: MockBackend;
beforeAll(() => {
  alpha = startMock("alpha");
  bravo = startMock("bravo");
});
beforeEach(() => {
  alpha.reset();
  bravo.reset();
});
afterAll(async () => {
  await Promise.all([alpha.stop(), bravo.stop()]);
  removeTempDirs();
});

function usageConfig(top: Record<string, unknown> = {}) {
  return {
    endpoints: {
      gpt: endpointFor(alpha, { actualModelName: "backend-gpt" }),
      llama: { targets: [{ name: "bravo-main", url: bravo.url, actualModelName: "backend-llama" }] },
      embed: endpointFor(alpha, { actualModelName: "backend-embed" }),
    },
    clientKeys: [
      { key: ALICE_KEY, name: "alice" },
      { key: BOB_KEY, name: "bob" },
    ],
    adminKey: ADMIN_KEY,
    ...top,
  };
}

const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const openWebUiUser = (id: string, email: string, name: string) => ({
  "x-openwebui-user-id": id,
  "x-openwebui-user-email": email,
  "x-openwebui-user-name": encodeURIComponent(name),
});

const completion = (prompt: number, completionTokens: number) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
});

/** A chat stream; with `usage`, the final usage-only chunk `stream_options.include_usage` adds. */
function chatStream(usage: { prompt: number; completion: number } | null): string[] {
  const chunks = [
    'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n',
    'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel',
    'lo"},"finish_reason":null}]}\n\n',
    'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"st',
    'op"}]}\n\n',
  ];
  if (usage) {
    const json = JSON.stringify({
      id: "c1",
      object: "chat.completion.chunk",
      choices: [],
      usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
    });
    // Split inside the event: the proxy must find it whole anyway.
    chunks.push(`data: ${json.slice(0, 30)}`, `${json.slice(30)}\n\n`);
  }
  chunks.push("data: [DONE]\n\n");
  return chunks;
}

/** The backend adds only the final usage chunk, and only when asked (as OpenAI does, minus `"usage":null`). */
const streamsUsageWhenAsked = (usage: { prompt: number; completion: number }) => (request: RecordedRequest) =>
  reply.sse(chatStream(request.json().stream_options?.include_usage === true ? usage : null));

/** Waits until `response`'s request has ended (its access line, written by the observer before the usage one). */
async function ended(proxy: ProxyHandle, response: Response): Promise<string> {
  const id = response.headers.get("x-request-id")!;
  expect(id).toBeTruthy();
  await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(id)), 5000, `the access line of request ${id}`);
  return id;
}

type Row = Record<string, any>;

/** Every row in the proxy's usage file, after writing what waits. */
async function rowsOf(proxy: ProxyHandle, path = join(proxy.dir, "usage.db")): Promise<Row[]> {
  await proxy.server.usage!.flush();
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT * FROM usage ORDER BY rowid").all() as Row[];
  } finally {
    db.close();
  }
}

async function rowOf(proxy: ProxyHandle, response: Response): Promise<Row> {
  const id = await ended(proxy, response);
  const rows = (await rowsOf(proxy)).filter((row) => row.request_id === id);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe("usage rows", () => {
  let proxy: ProxyHandle;
  beforeAll(async () => {
    proxy = await startProxy(usageConfig());
  });
  afterAll(() => proxy.stop());

  test("the file is usage.db beside the config, in WAL mode", async () => {
    const path = join(proxy.dir, "usage.db");
    expect(existsSync(path)).toBe(true);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    } finally {
      db.close();
    }
  });

  test("a chat completion: client key name, Open WebUI user, model, target, status, tokens, times", async () => {
    alpha.willReply(reply.json(completion(11, 7)));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY, openWebUiUser("u-1", "ann@example.com", "Änn Ö")));
    expect(response.status).toBe(200);
    await response.text();
    const row = await rowOf(proxy, response);
    expect(row).toMatchObject({
      client: "alice",
      user_id: "u-1",
      user_email: "ann@example.com",
      user_name: "Änn Ö",
      model: "gpt",
      served_model: "gpt",
      target: "gpt#0",
      status: 200,
      outcome: "ok",
      prompt_tokens: 11,
      completion_tokens: 7,
      total_tokens: 18,
    });
    expect(Number.isInteger(row.ttfb_ms) && Number.isInteger(row.duration_ms)).toBe(true);
    expect(row.duration_ms).toBeGreaterThanOrEqual(row.ttfb_ms);
    expect(Math.abs(row.ts - Date.now())).toBeLessThan(60_000);
    // Open WebUI's headers are recorded, not forwarded (forwardUserInfoHeaders is off).
    expect(alpha.last.headers.get("x-openwebui-user-id")).toBeNull();
  });

  test("a stream: the usage chunk the proxy asked for is counted, and the client never sees it", async () => {
    bravo.willReply(streamsUsageWhenAsked({ prompt: 5, completion: 9 }));
    const response = await postJson(
      proxy.url("/chat/completions"),
      chatBody("llama", { stream: true }),
      as(BOB_KEY, { "x-openwebui-user-email": "bo@example.com" }),
    );
    expect(response.status).toBe(200);
    const { text } = await readBody(response);
    expect(text).toBe(chatStream(null).join(""));
    expect(bravo.last.json().stream_options).toEqual({ include_usage: true });
    expect(await rowOf(proxy, response)).toMatchObject({
      client: "bob",
      user_id: null,
      user_email: "bo@example.com",
      user_name: null,
      model: "llama",
      served_model: "llama",
      target: "bravo-main",
      status: 200,
      outcome: "ok",
      prompt_tokens: 5,
      completion_tokens: 9,
      total_tokens: 14,
    });
  });

  test("embeddings through the passthrough; a Responses API body's input/output tokens", async () => {
    alpha.willReply(reply.json({ object: "list", data: [{ embedding: [0.1] }], usage: { prompt_tokens: 4, total_tokens: 4 } }));
    const embedding = await postJson(proxy.url("/v1/embeddings"), { model: "embed", input: "x" }, as(ALICE_KEY));
    await embedding.text();
    expect(await rowOf(proxy, embedding)).toMatchObject({
      model: "embed",
      target: "embed#0",
      status: 200,
      prompt_tokens: 4,
      completion_tokens: 0,
      total_tokens: 4,
    });

    alpha.willReply(reply.json({ id: "resp_1", object: "response", usage: { input_tokens: 8, output_tokens: 2, total_tokens: 10 } }));
    const responses = await postJson(proxy.url("/v1/responses"), { model: "gpt", input: "x" }, as(ALICE_KEY));
    await responses.text();
    expect(await rowOf(proxy, responses)).toMatchObject({ model: "gpt", prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 });
  });

  test("a path spelled with percent-escapes (/v1/embedding%73) is metered as the path it names, and sent as that path", async () => {
    alpha.willReply(reply.json({ object: "list", data: [{ embedding: [0.1] }], usage: { prompt_tokens: 6, total_tokens: 6 } }));
    const response = await postJson(proxy.url("/v1/embedding%73"), { model: "embed", input: "x" }, as(ALICE_KEY));
    expect(response.status).toBe(200);
    await response.text();
    expect(alpha.last.path).toBe("/v1/embeddings");
    expect(await rowOf(proxy, response)).toMatchObject({ model: "embed", prompt_tokens: 6, total_tokens: 6 });
  });

  test("a successful answer that names no usage is charged an estimate: the request's characters / 4, the generated text's / 4", async () => {
    const answer = { object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "x".repeat(40) }, finish_reason: "stop" }] };
    alpha.willReply(reply.json(answer));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
    expect(await response.json()).toEqual(answer);
    const prompt = Math.ceil(alpha.last.body.byteLength / 4);
    expect(await rowOf(proxy, response)).toMatchObject({ status: 200, prompt_tokens: prompt, completion_tokens: 10, total_tokens: prompt + 10 });

    // Only generations: an image has no token count to estimate.
    alpha.willReply(reply.json({ created: 1, data: [{ url: "https://example.com/cat.png" }] }));
    const image = await postJson(proxy.url("/v1/images/generations"), { model: "gpt", prompt: "a cat" }, as(ALICE_KEY));
    await image.text();
    expect(await rowOf(proxy, image)).toMatchObject({ status: 200, prompt_tokens: null });
  });

  test("errors are rows too: a backend 500, an unknown model", async () => {
    alpha.willReply(reply.json({ error: { message: "boom" } }, { status: 500 }));
    const failed = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
    await failed.text();
    expect(await rowOf(proxy, failed)).toMatchObject({ model: "gpt", target: "gpt#0", status: 500, outcome: "upstream_error", prompt_tokens: null });

    const unknown = await postJson(proxy.url("/v1/chat/completions"), chatBody("no-such-model"), as(BOB_KEY));
    await unknown.text();
    expect(await rowOf(proxy, unknown)).toMatchObject({ model: "no-such-model", served_model: null, target: null, status: 404, client: "bob" });
  });

  test("/models, /health and admin calls make no rows", async () => {
    const before = (await rowsOf(proxy)).length;
    const calls = [
      fetch(proxy.url("/v1/models"), { headers: as(ALICE_KEY) }),
      fetch(proxy.url("/health")),
      fetch(proxy.url("/debug"), { headers: asAdmin }),
      fetch(proxy.url("/usage"), { headers: asAdmin }),
    ];
    const responses = await Promise.all(calls);
    for (const response of responses) {
      expect(response.status).toBe(200);
      await response.text();
      await ended(proxy, response);
    }
    expect((await rowsOf(proxy)).length).toBe(before);
  });
});

describe("usage of answers that come compressed, in chunks, or with a long last event", () => {
  let proxy: ProxyHandle;
  beforeAll(async () => {
    proxy = await startProxy(usageConfig());
  });
  afterAll(() => proxy.stop());

  const COMPLETION = JSON.stringify(completion(21, 8));
  const split = (bytes: Uint8Array, pieces: number) =>
    Array.from({ length: pieces }, (_, i) => bytes.subarray(Math.floor((i * bytes.length) / pieces), Math.floor(((i + 1) * bytes.length) / pieces)));
  /** A non-streamed chat the client accepts compressed; the raw bytes it got, and its usage row. */
  async function compressedChat() {
    const response = await fetch(proxy.url("/v1/chat/completions"), {
      method: "POST",
      headers: as(ALICE_KEY, { "content-type": "application/json", "accept-encoding": "gzip, deflate, br, zstd" }),
      body: JSON.stringify(chatBody("gpt")),
      decompress: false,
    } as RequestInit);
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { response, bytes, row: await rowOf(proxy, response) };
  }

  test("a gzip answer of announced length reaches the client as it came, and its usage is read from a decoded copy", async () => {
    alpha.willReply(reply.raw(COMPLETION, { gzip: "always", headers: { "content-type": "application/json" } }));
    const { response, bytes, row } = await compressedChat();
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(COMPLETION);
    expect(row).toMatchObject({ model: "gpt", status: 200, outcome: "ok", prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 });
  });

  test("a brotli answer sent in chunks, its length not announced: relayed as it came, its usage read", async () => {
    const encoded = brotliCompressSync(COMPLETION);
    alpha.willReply(reply.sse(split(encoded, 3), { headers: { "content-type": "application/json", "content-encoding": "br" } }));
    const { response, bytes, row } = await compressedChat();
    expect(response.headers.get("content-length")).toBeNull();
    expect(response.headers.get("content-encoding")).toBe("br");
    expect(Buffer.from(bytes).equals(encoded)).toBe(true);
    expect(row).toMatchObject({ status: 200, outcome: "ok", prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 });
  });

  test("a plain answer sent in chunks has its usage read", async () => {
    alpha.willReply(reply.sse(split(new TextEncoder().encode(COMPLETION), 4), { headers: { "content-type": "application/json" } }));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
    expect(await response.text()).toBe(COMPLETION);
    expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 });
  });

  test("a stream is asked for uncompressed, whatever the client accepts, so its usage can be read", async () => {
    alpha.willReply(streamsUsageWhenAsked({ prompt: 6, completion: 2 }));
    const response = await postJson(proxy.url("/v1/chat/completions"), { ...chatBody("gpt"), stream: true }, as(ALICE_KEY, { "accept-encoding": "gzip, br" }));
    await response.text();
    expect(alpha.last.headers.get("accept-encoding")).toBe("identity");
    expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 6, completion_tokens: 2, total_tokens: 8 });
  });

  test("a streamed Responses API answer whose last event repeats a long answer keeps its usage", async () => {
    const text = "word ".repeat(30_000);
    const completed = {
      type: "response.completed",
      response: {
        id: "resp_1",
        object: "response",
        output: [{ type: "message", content: [{ type: "output_text", text }] }],
        usage: { input_tokens: 12, output_tokens: 30_000, total_tokens: 30_012 },
      },
    };
    alpha.willReply(
      reply.sse([
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"word "}\n\n',
        `event: response.completed\ndata: ${JSON.stringify(completed)}\n\n`,
      ]),
    );
    const response = await postJson(proxy.url("/v1/responses"), { model: "gpt", input: "x", stream: true }, as(ALICE_KEY));
    expect((await response.text()).length).toBeGreaterThan(100 * 1024);
    expect(alpha.last.headers.get("accept-encoding")).toBe("identity");
    expect(await rowOf(proxy, response)).toMatchObject({ model: "gpt", prompt_tokens: 12, completion_tokens: 30_000, total_tokens: 30_012 });
  });
});

describe("Open WebUI's user headers renamed on its side (openWebUI.headers)", () => {
  test("the user is read under the new names, limits follow it, and the headers still stay behind", async () => {
    const headers = { id: "X-User-Id", email: "X-User-Email", name: "X-User-Name" };
    const proxy = await startProxy(usageConfig({ openWebUI: { headers }, limits: { perUser: { rpm: 1 } } }));
    try {
      const asUser = (id: string) => as(ALICE_KEY, { "x-user-id": id, "x-user-email": `${id}@example.com`, "x-user-name": encodeURIComponent(`Ü ${id}`) });
      alpha.willReply(reply.json(completion(3, 4)));
      const first = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), asUser("u-1"));
      expect(first.status).toBe(200);
      await first.text();
      expect(await rowOf(proxy, first)).toMatchObject({ user_id: "u-1", user_email: "u-1@example.com", user_name: "Ü u-1" });
      for (const name of ["x-user-id", "x-user-email", "x-user-name"]) expect(alpha.last.headers.get(name)).toBeNull();

      await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), asUser("u-1")), 429, { code: "rate_limit_exceeded" });
      alpha.willReply(reply.json(completion(3, 4)));
      expect((await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), asUser("u-2"))).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });
});

describe("GET /usage", () => {
  let proxy: ProxyHandle;
  let rows: Row[];
  beforeAll(async () => {
    proxy = await startProxy(usageConfig());
    // A known mix: alice (user u-1) twice on gpt, bob (user by email) streaming on llama, one
    // 500 on gpt, one unknown model; all today.
    alpha.willReply((request) =>
      request.json().messages[0].content === "fail" ? reply.json({ error: { message: "boom" } }, { status: 500 }) : reply.json(completion(10, 5)),
    );
    bravo.willReply(streamsUsageWhenAsked({ prompt: 3, completion: 4 }));
    const user1 = openWebUiUser("u-1", "ann@example.com", "Ann");
    const sent = [
      await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY, user1)),
      await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY, user1)),
      await postJson(proxy.url("/v1/chat/completions"), chatBody("llama", { stream: true }), as(BOB_KEY, { "x-openwebui-user-email": "bo@example.com" })),
      await postJson(proxy.url("/v1/chat/completions"), { model: "gpt", messages: [{ role: "user", content: "fail" }] }, as(BOB_KEY)),
      await postJson(proxy.url("/v1/chat/completions"), chatBody("nope"), as(ALICE_KEY)),
    ];
    for (const response of sent) {
      await response.text();
      await ended(proxy, response);
    }
    rows = await rowsOf(proxy);
    expect(rows).toHaveLength(5);
  });
  afterAll(() => proxy.stop());

  /** What a group of these rows must say, computed here from the rows themselves. */
  function expected(key: string, members: Row[]) {
    const durations = members.map((row) => row.duration_ms as number).sort((a, b) => a - b);
    const sum = (column: string) => members.reduce((total, row) => total + (row[column] ?? 0), 0);
    return {
      key,
      requests: members.length,
      errors: members.filter((row) => row.status >= 400 || row.outcome !== "ok").length,
      promptTokens: sum("prompt_tokens"),
      completionTokens: sum("completion_tokens"),
      totalTokens: sum("total_tokens"),
      // The sum of the priced rows' costs; null when none was priced (none is here: no backend model name is in the built-in table).
      costUsd: members.some((row) => row.cost_usd !== null) ? sum("cost_usd") : null,
      p50Ms: durations[nearestRank(50, durations.length) - 1],
      p95Ms: durations[nearestRank(95, durations.length) - 1],
    };
  }

  const getUsage = (query: string, headers: Record<string, string> = asAdmin) => fetch(proxy.url(`/usage${query}`), { headers });

  test("groupBy model, client, user, target, day, hour: counts, errors, tokens, costs, exact p50/p95", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const hourOf = (row: Row) => new Date(row.ts).toISOString().slice(0, 13);
    const by = (pick: (row: Row) => string) => {
      const groups = new Map<string, Row[]>();
      for (const row of rows) groups.set(pick(row), [...(groups.get(pick(row)) ?? []), row]);
      return [...groups.keys()].sort().map((key) => expected(key, groups.get(key)!));
    };
    const cases: [string, (row: Row) => string, string[]][] = [
      ["model", (row) => row.model, ["gpt", "llama", "nope"]],
      ["client", (row) => row.client ?? "-", ["alice", "bob"]],
      ["user", (row) => row.user_id ?? row.user_email ?? "-", ["-", "bo@example.com", "u-1"]],
      ["target", (row) => row.target ?? "-", ["-", "bravo-main", "gpt#0"]],
      ["day", () => today, [today]],
      ["hour", hourOf, [...new Set(rows.map(hourOf))].sort()],
    ];
    for (const [groupBy, pick, keys] of cases) {
      const response = await getUsage(`?groupBy=${groupBy}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      const body = await response.json();
      expect(Object.keys(body)).toEqual(["from", "to", "groupBy", "groups"]);
      expect(body.groupBy).toBe(groupBy);
      expect(Date.parse(body.to) - Date.parse(body.from)).toBe(24 * 60 * 60 * 1000);
      expect(body.groups.map((group: { key: string }) => group.key)).toEqual(keys);
      expect(body.groups).toEqual(by(pick));
    }
    // Spelled out once, independent of the helper above.
    const byModel = (await (await getUsage("?groupBy=model")).json()).groups;
    expect(byModel.map(({ p50Ms, p95Ms, ...rest }: Record<string, unknown>) => rest)).toEqual([
      { key: "gpt", requests: 3, errors: 1, promptTokens: 20, completionTokens: 10, totalTokens: 30, costUsd: null },
      { key: "llama", requests: 1, errors: 0, promptTokens: 3, completionTokens: 4, totalTokens: 7, costUsd: null },
      { key: "nope", requests: 1, errors: 1, promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: null },
    ]);
  });

  test("groupBy defaults to day; /v1/usage is the same route", async () => {
    const response = await fetch(proxy.url("/v1/usage"), { headers: asAdmin });
    const body = await response.json();
    expect(body.groupBy).toBe("day");
    expect(body.groups).toHaveLength(1);
    expect(body.groups[0].requests).toBe(5);
  });

  test("from/to: ISO dates include the whole day; a range with no rows has no groups", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const todayOnly = await (await getUsage(`?from=${today}&to=${today}&groupBy=client`)).json();
    expect(todayOnly.from).toBe(`${today}T00:00:00.000Z`);
    expect(Date.parse(todayOnly.to) - Date.parse(todayOnly.from)).toBe(24 * 60 * 60 * 1000);
    expect(todayOnly.groups.map((group: { requests: number }) => group.requests)).toEqual([3, 2]);
    const future = await (await getUsage(`?from=2999-01-01T00:00:00Z&to=2999-01-02`)).json();
    expect(future).toEqual({ from: "2999-01-01T00:00:00.000Z", to: "2999-01-03T00:00:00.000Z", groupBy: "day", groups: [] });
  });

  test("format=csv: text/csv, a header row, the same columns and values as the JSON", async () => {
    const json = (await (await getUsage("?groupBy=model")).json()).groups as Record<string, unknown>[];
    const response = await getUsage("?groupBy=model&format=csv");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const lines = (await response.text()).split("\r\n");
    expect(lines.at(-1)).toBe("");
    const columns = ["key", "requests", "errors", "promptTokens", "completionTokens", "totalTokens", "costUsd", "p50Ms", "p95Ms"];
    expect(lines[0]).toBe(columns.join(","));
    // An unpriced group's null cost is an empty field.
    expect(lines.slice(1, -1)).toEqual(json.map((group) => columns.map((column) => (group[column] === null ? "" : String(group[column]))).join(",")));
  });

  test("a bad value is a 400 in OpenAI's shape naming the parameter", async () => {
    for (const [query, param] of [
      ["?from=yesterday", "from"],
      ["?to=2024-13-01", "to"],
      ["?groupBy=week", "groupBy"],
      ["?format=xml", "format"],
      ["?from=2024-05-02&to=2024-05-01T00:00:00Z", "from"],
    ] as const) {
      await expectOpenAIError(await getUsage(query), 400, { type: "invalid_request_error", param, messageIncludes: [param] });
    }
  });

  test("guarded like /debug: the admin key, nothing else", async () => {
    await expectOpenAIError(await getUsage("", {}), 401, { code: "invalid_admin_key" });
    await expectOpenAIError(await getUsage("", as(ALICE_KEY)), 401, { code: "invalid_admin_key" });
    await expectOpenAIError(await fetch(proxy.url("/v1/usage?format=csv"), { headers: as("wrong") }), 401, { code: "invalid_admin_key" });
  });
});

describe("usage store lifecycle", () => {
  test("usage.enabled false: no file, no store, /usage says usage is off", async () => {
    const proxy = await startProxy({ ...usageConfig({ usage: { enabled: false } }), adminKey: undefined });
    try {
      alpha.willReply(reply.json(completion(1, 1)));
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
      await response.text();
      await ended(proxy, response);
      expect(proxy.server.usage).toBeNull();
      expect(existsSync(join(proxy.dir, "usage.db"))).toBe(false);
      // No admin key: loopback clients only, as /debug.
      await expectOpenAIError(await fetch(proxy.url("/usage")), 404, { code: "usage_disabled", messageIncludes: ["usage.enabled"] });
    } finally {
      await proxy.stop();
    }
    expect(existsSync(join(proxy.dir, "usage.db"))).toBe(false);
  });

  test("a reload cannot switch the store off or move it: it warns, and rows keep going where they went", async () => {
    const proxy = await startProxy(usageConfig());
    try {
      writeConfig(proxy.configPath, usageConfig({ usage: { enabled: false } }));
      const reload = await fetch(proxy.url("/reload"), { method: "POST", headers: asAdmin });
      expect(reload.status).toBe(200);
      await reload.text();
      expect(proxy.log.lines.some((line) => line.startsWith("WARN") && line.includes("usage.enabled, usage.path"))).toBe(true);
      alpha.willReply(reply.json(completion(2, 3)));
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
      await response.text();
      expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 2, completion_tokens: 3 });
    } finally {
      await proxy.stop();
    }
  });

  test("a corrupt usage file is a clear start-up error, before anything listens", async () => {
    const dir = makeTempDir("usage-corrupt");
    const configPath = writeConfig(join(dir, "config.json"), usageConfig());
    const usagePath = join(dir, "usage.db");
    writeFileSync(usagePath, "garbage, not a database ".repeat(100));
    let caught: unknown;
    try {
      const server = await startServer({
        configPath,
        port: 0,
        hostname: "127.0.0.1",
        log: new CapturingLogger("corrupt"),
        watchConfig: false,
        accessLogWrite: () => {},
      });
      await server.stop();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageStoreError);
    expect(caught).toBeInstanceOf(ConfigError); // the CLI prints it and exits 1
    expect((caught as Error).message).toBe(
      `${configPath}: usage.path: cannot use ${usagePath}: it is not a SQLite database, or a corrupt one (file is not a database); move it away or set usage.path to another file`,
    );
  });

  test("usage.path elsewhere; rows survive a restart; rows past retentionDays are pruned at start", async () => {
    const dataDir = makeTempDir("usage-data");
    const usagePath = join(dataDir, "metering.db");
    const first = await startProxy(usageConfig({ usage: { path: usagePath } }));
    alpha.willReply(reply.json(completion(2, 2)));
    try {
      for (let i = 0; i < 3; i++) {
        const response = await postJson(first.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
        await response.text();
        await ended(first, response);
      }
      expect(existsSync(join(first.dir, "usage.db"))).toBe(false);
    } finally {
      await first.stop(); // writes what waits, then closes
    }
    const db = new Database(usagePath);
    const ids = (db.query("SELECT request_id FROM usage ORDER BY rowid").all() as { request_id: string }[]).map((row) => row.request_id);
    expect(ids).toHaveLength(3);
    // Two rows age: 40 and 10 days old.
    db.query("UPDATE usage SET ts = ? WHERE request_id = ?").run(Date.now() - 40 * 86_400_000, ids[0]!);
    db.query("UPDATE usage SET ts = ? WHERE request_id = ?").run(Date.now() - 10 * 86_400_000, ids[1]!);
    db.close();

    const second = await startProxy(usageConfig({ usage: { path: usagePath, retentionDays: 30 } }));
    try {
      await second.log.line((line) => line.includes("usage store: pruned 1 rows older than 30 days"), 5000, "the start-up prune");
      expect((await rowsOf(second, usagePath)).map((row) => row.request_id)).toEqual(ids.slice(1));
      const body = await (await fetch(second.url(`/usage?from=2000-01-01&groupBy=client`), { headers: asAdmin })).json();
      expect(body.groups).toMatchObject([{ key: "alice", requests: 2, promptTokens: 4 }]);
    } finally {
      await second.stop();
    }
  });

  test("a queue that cannot drain drops rows and counts them in cm_proxy_usage_rows_dropped_total; /health says the store is down meanwhile", async () => {
    const dataDir = makeTempDir("usage-drop");
    const usagePath = join(dataDir, "usage.db");
    const proxy = await startProxy(usageConfig({ usage: { path: usagePath, queueSize: 1 } }));
    const other = new Database(usagePath);
    other.exec("BEGIN EXCLUSIVE"); // every write fails until this lock goes
    try {
      alpha.willReply(reply.json(completion(1, 1)));
      for (let i = 0; i < 3; i++) {
        const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"), as(ALICE_KEY));
        expect(response.status).toBe(200); // the request never notices
        await response.text();
        await ended(proxy, response);
      }
      await proxy.server.usage!.flush();
      await proxy.log.line((line) => line.includes("usage store: cannot write to"), 5000, "the write failure, logged once");
      expect(proxy.server.usage!.droppedRows).toBe(2);
      const metrics = await (await fetch(proxy.url("/metrics"), { headers: asAdmin })).text();
      expect(metrics).toContain("\ncm_proxy_usage_rows_dropped_total 2\n");
      // /health says the store is down, and /usage will not answer without the rows it could not write.
      expect(await (await fetch(proxy.url("/health"))).json()).toMatchObject({ status: "degraded", stores: { usage: "down" } });
      // Saying why: the file's rows cannot be written (not a PostgreSQL server this proxy does not have).
      const unavailable = await expectOpenAIError(await fetch(proxy.url("/usage"), { headers: asAdmin }), 503, {
        code: "usage_store_unavailable",
        messageIncludes: [`cannot be written to ${usagePath}`],
      });
      expect(unavailable.message).not.toContain("PostgreSQL");
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    await proxy.server.usage!.flush();
    expect(await rowsOf(proxy, usagePath)).toHaveLength(1);
    expect((await (await fetch(proxy.url("/health"))).json()).status).toBe("ok");
    expect(proxy.log.lines.filter((line) => line.includes("cannot write to"))).toHaveLength(1);
    await proxy.stop();
  });
});

describe("stream usage injection is invisible to the client", () => {
  const encoder = new TextEncoder();
  const bytes = (chunks: string[]) => concat(chunks.map((chunk) => encoder.encode(chunk)));
  const usage = { prompt: 6, completion: 3 };

  async function streamThrough(proxy: ProxyHandle, extra: Record<string, unknown> = {}) {
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt", { stream: true, ...extra }), as(ALICE_KEY));
    expect(response.status).toBe(200);
    const body = await readBody(response);
    return { response, body: body.bytes };
  }

  test("the client's stream equals, byte for byte, what the backend sends without the option", async () => {
    const proxy = await startProxy(usageConfig());
    try {
      alpha.willReply(streamsUsageWhenAsked(usage));
      for (const clientOptions of [{}, { stream_options: { include_usage: false } }, { stream_options: null }]) {
        const { response, body } = await streamThrough(proxy, clientOptions);
        expect(body).toEqual(bytes(chatStream(null)));
        // The proxy did ask, and counted what it got.
        expect(alpha.last.json().stream_options).toEqual({ include_usage: true });
        expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
      }
      // The bytes the backend sends when asked differ: the comparison above can fail.
      expect(bytes(chatStream(usage))).not.toEqual(bytes(chatStream(null)));
    } finally {
      await proxy.stop();
    }
  });

  test("a legacy /completions stream through the passthrough: asked for its usage, counted, and the client's bytes unchanged", async () => {
    const proxy = await startProxy(usageConfig());
    try {
      alpha.willReply(streamsUsageWhenAsked(usage));
      const response = await postJson(proxy.url("/v1/completions"), { model: "gpt", prompt: "Once", stream: true }, as(ALICE_KEY));
      expect(response.status).toBe(200);
      expect((await readBody(response)).bytes).toEqual(bytes(chatStream(null)));
      expect(alpha.last.json()).toMatchObject({ model: "backend-gpt", prompt: "Once", stream: true, stream_options: { include_usage: true } });
      expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
    } finally {
      await proxy.stop();
    }
  });

  test("a client that asked for usage gets the usage chunk, byte for byte", async () => {
    const proxy = await startProxy(usageConfig());
    try {
      alpha.willReply(streamsUsageWhenAsked(usage));
      const { response, body } = await streamThrough(proxy, { stream_options: { include_usage: true } });
      expect(body).toEqual(bytes(chatStream(usage)));
      expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: 6, completion_tokens: 3 });
    } finally {
      await proxy.stop();
    }
  });

  test("usage.streamUsage false (or the endpoint's): the proxy does not ask, and the row has the estimate", async () => {
    for (const config of [
      usageConfig({ usage: { streamUsage: false } }),
      { ...usageConfig(), endpoints: { gpt: endpointFor(alpha, { streamUsage: false }) } },
    ]) {
      const proxy = await startProxy(config);
      try {
        alpha.willReply(streamsUsageWhenAsked(usage));
        const { response, body } = await streamThrough(proxy);
        expect(body).toEqual(bytes(chatStream(null)));
        expect(alpha.last.json().stream_options).toBeUndefined();
        // A quarter of the request's characters, and a token for each of the stream's three deltas.
        const prompt = Math.ceil(alpha.last.body.byteLength / 4);
        expect(await rowOf(proxy, response)).toMatchObject({ prompt_tokens: prompt, completion_tokens: 3, total_tokens: prompt + 3 });
      } finally {
        await proxy.stop();
      }
    }
  });
});
