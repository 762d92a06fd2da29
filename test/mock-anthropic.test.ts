// The Anthropic mock's own contract: it refuses what the real Messages API refuses (so translation
// tests against it mean something), and answers in the API's recorded shapes.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { anthropicReply, signatureOf, startMockAnthropic, type MockAnthropic } from "./support/mock-anthropic";

const KEY = "sk-ant-mock";
let mock: MockAnthropic;
beforeAll(() => {
  mock = startMockAnthropic(KEY);
});
beforeEach(() => mock.reset());
afterAll(() => mock.stop());

const HEADERS = { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" };
const BASE = { model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] };
const TOOLS = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
const TOOL_TURNS = [
  { role: "user", content: "Weather?" },
  { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }] },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
];

async function post(body: unknown, { headers = HEADERS as Record<string, string>, path = "/v1/messages" } = {}) {
  const response = await fetch(`${mock.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as any };
}

const without = (record: Record<string, string>, name: string) => Object.fromEntries(Object.entries(record).filter(([key]) => key !== name));

describe("mock anthropic refuses what the API refuses", () => {
  const cases: { name: string; body?: unknown; headers?: Record<string, string>; path?: string; status: number; type: string; message: RegExp }[] = [
    {
      name: "an unknown top-level field",
      body: { ...BASE, frequency_penalty: 0 },
      status: 400,
      type: "invalid_request_error",
      message: /frequency_penalty: Extra inputs are not permitted/,
    },
    { name: "no max_tokens", body: { model: "m", messages: BASE.messages }, status: 400, type: "invalid_request_error", message: /max_tokens: Field required/ },
    {
      name: "a system role in messages",
      body: { ...BASE, messages: [{ role: "system", content: "Be brief" }, ...BASE.messages] },
      status: 400,
      type: "invalid_request_error",
      message: /Unexpected role "system"/,
    },
    {
      name: "a first turn from the assistant",
      body: { ...BASE, messages: [{ role: "assistant", content: "Hello" }, ...BASE.messages] },
      status: 400,
      type: "invalid_request_error",
      message: /first message must use the "user" role/,
    },
    {
      name: "two user turns in a row",
      body: { ...BASE, messages: [...BASE.messages, { role: "user", content: "again" }] },
      status: 400,
      type: "invalid_request_error",
      message: /roles must alternate/,
    },
    {
      name: "an empty text block",
      body: { ...BASE, messages: [{ role: "user", content: [{ type: "text", text: "" }] }] },
      status: 400,
      type: "invalid_request_error",
      message: /non-whitespace text/,
    },
    {
      name: "a whitespace-only text block",
      body: { ...BASE, messages: [{ role: "user", content: [{ type: "text", text: " \n" }] }] },
      status: 400,
      type: "invalid_request_error",
      message: /non-whitespace text/,
    },
    {
      name: "an empty message",
      body: { ...BASE, messages: [{ role: "user", content: [] }] },
      status: 400,
      type: "invalid_request_error",
      message: /non-empty content/,
    },
    {
      name: "an unknown field on a message",
      body: { ...BASE, messages: [{ role: "user", content: "Hi", name: "bob" }] },
      status: 400,
      type: "invalid_request_error",
      message: /messages\.0\.name: Extra inputs/,
    },
    {
      name: "an unknown field on a block",
      body: { ...BASE, messages: [{ role: "user", content: [{ type: "text", text: "Hi", detail: "x" }] }] },
      status: 400,
      type: "invalid_request_error",
      message: /Extra inputs are not permitted/,
    },
    {
      name: "a tool_result without its tool_use in the turn before",
      body: { ...BASE, tools: TOOLS, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "x" }] }] },
      status: 400,
      type: "invalid_request_error",
      message: /unexpected `tool_use_id` found in `tool_result` blocks: toolu_9/,
    },
    {
      name: "a tool_use without its tool_result in the next turn",
      body: { ...BASE, tools: TOOLS, messages: [...TOOL_TURNS.slice(0, 2), { role: "user", content: "never mind" }] },
      status: 400,
      type: "invalid_request_error",
      message: /`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/,
    },
    {
      name: "text before a tool_result",
      body: {
        ...BASE,
        tools: TOOLS,
        messages: [
          ...TOOL_TURNS.slice(0, 2),
          {
            role: "user",
            content: [
              { type: "text", text: "here" },
              { type: "tool_result", tool_use_id: "toolu_1" },
            ],
          },
        ],
      },
      status: 400,
      type: "invalid_request_error",
      message: /tool_result blocks must come first/,
    },
    { name: "tool blocks without tools", body: { ...BASE, messages: TOOL_TURNS }, status: 400, type: "invalid_request_error", message: /must define tools/ },
    {
      name: "a tool id outside the API's alphabet",
      body: {
        ...BASE,
        tools: TOOLS,
        messages: [
          TOOL_TURNS[0],
          { role: "assistant", content: [{ type: "tool_use", id: "functions.get_weather:0", name: "get_weather", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "functions.get_weather:0" }] },
        ],
      },
      status: 400,
      type: "invalid_request_error",
      message: /String should match pattern/,
    },
    {
      name: "an image of another media type",
      body: { ...BASE, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/svg+xml", data: "PHN2Zz4=" } }] }] },
      status: 400,
      type: "invalid_request_error",
      message: /media_type/,
    },
    { name: "temperature above 1", body: { ...BASE, temperature: 1.5 }, status: 400, type: "invalid_request_error", message: /temperature/ },
    {
      name: "temperature with top_p",
      body: { ...BASE, temperature: 0.5, top_p: 0.9 },
      status: 400,
      type: "invalid_request_error",
      message: /cannot both be specified/,
    },
    { name: "a whitespace-only stop sequence", body: { ...BASE, stop_sequences: [" "] }, status: 400, type: "invalid_request_error", message: /stop sequence/ },
    {
      name: "tool_choice without tools",
      body: { ...BASE, tool_choice: { type: "auto" } },
      status: 400,
      type: "invalid_request_error",
      message: /tool_choice may only be specified/,
    },
    {
      name: "a forced tool_choice with thinking",
      body: { ...BASE, max_tokens: 3000, tools: TOOLS, tool_choice: { type: "any" }, thinking: { type: "enabled", budget_tokens: 1024 } },
      status: 400,
      type: "invalid_request_error",
      message: /tool_choice forces tool use/,
    },
    {
      name: "a thinking budget not below max_tokens",
      body: { ...BASE, thinking: { type: "enabled", budget_tokens: 1024 } },
      status: 400,
      type: "invalid_request_error",
      message: /greater than `thinking.budget_tokens`/,
    },
    {
      name: "temperature with thinking",
      body: { ...BASE, max_tokens: 3000, temperature: 0.3, thinking: { type: "enabled", budget_tokens: 1024 } },
      status: 400,
      type: "invalid_request_error",
      message: /only be set to 1 when thinking/,
    },
    {
      name: "a thinking tool loop replayed without its thinking",
      body: { ...BASE, max_tokens: 3000, tools: TOOLS, thinking: { type: "enabled", budget_tokens: 1024 }, messages: TOOL_TURNS },
      status: 400,
      type: "invalid_request_error",
      message: /Expected `thinking` or `redacted_thinking`, but found `tool_use`/,
    },
    {
      name: "a replayed thinking block whose text changed",
      body: {
        ...BASE,
        max_tokens: 3000,
        tools: TOOLS,
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: [
          TOOL_TURNS[0],
          { role: "assistant", content: [{ type: "thinking", thinking: "edited", signature: signatureOf("original") }, TOOL_TURNS[1]!.content[0]] },
          TOOL_TURNS[2],
        ],
      },
      status: 400,
      type: "invalid_request_error",
      message: /Invalid `signature`/,
    },
    { name: "a missing x-api-key", headers: without(HEADERS, "x-api-key"), status: 401, type: "authentication_error", message: /x-api-key header is required/ },
    { name: "a wrong x-api-key", headers: { ...HEADERS, "x-api-key": "sk-other" }, status: 401, type: "authentication_error", message: /invalid x-api-key/ },
    {
      name: "a missing anthropic-version",
      headers: without(HEADERS, "anthropic-version"),
      status: 400,
      type: "invalid_request_error",
      message: /anthropic-version/,
    },
    {
      name: "an Authorization header",
      headers: { ...HEADERS, authorization: `Bearer ${KEY}` },
      status: 401,
      type: "authentication_error",
      message: /Authorization header/,
    },
    { name: "a key in the URL", path: `/v1/messages?key=${KEY}`, status: 400, type: "invalid_request_error", message: /must not be sent in the URL/ },
    { name: "another path", path: "/v1/chat/completions", status: 404, type: "not_found_error", message: /not found/ },
  ];

  for (const { name, body = BASE, headers, path, status, type, message } of cases) {
    test(name, async () => {
      const answer = await post(body, { headers, path });
      expect(answer.status).toBe(status);
      expect(answer.json.type).toBe("error");
      expect(answer.json.error.type).toBe(type);
      expect(answer.json.error.message).toMatch(message);
      expect(mock.last.refusal).toBe(answer.json.error.message);
    });
  }
});

describe("mock anthropic accepts what the API accepts", () => {
  test("a plain request: answered in the recorded shape, request recorded", async () => {
    const { status, json } = await post({ ...BASE, system: [{ type: "text", text: "Be brief" }], metadata: { user_id: "u1" } });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-test",
      content: [{ type: "text", text: "Hello from mock Anthropic" }],
      stop_reason: "end_turn",
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(mock.last.refusal).toBeNull();
    expect(mock.last.headers.get("x-api-key")).toBe(KEY);
    expect(mock.last.body.metadata).toEqual({ user_id: "u1" });
  });

  test("a tool loop replayed with its signed thinking", async () => {
    const thought = "The user wants weather; call the tool.";
    const messages = [
      TOOL_TURNS[0],
      { role: "assistant", content: [{ type: "thinking", thinking: thought, signature: signatureOf(thought) }, TOOL_TURNS[1]!.content[0]] },
      TOOL_TURNS[2],
    ];
    const { status } = await post({ ...BASE, max_tokens: 3000, tools: TOOLS, thinking: { type: "enabled", budget_tokens: 1024 }, messages });
    expect(status).toBe(200);
  });

  test("the SDK's ?beta=true query is not a key", async () => {
    expect((await post(BASE, { path: "/v1/messages?beta=true" })).status).toBe(200);
  });

  test("count_tokens answers input_tokens and needs no max_tokens", async () => {
    const { status, json } = await post({ model: "m", messages: BASE.messages }, { path: "/v1/messages/count_tokens" });
    expect(status).toBe(200);
    expect(json.input_tokens).toBeGreaterThan(0);
  });

  test("a scripted error keeps its status, type and headers", async () => {
    mock.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded", { "retry-after": "3" }));
    const response = await fetch(`${mock.url}/v1/messages`, { method: "POST", headers: HEADERS, body: JSON.stringify(BASE) });
    expect(response.status).toBe(529);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(((await response.json()) as any).error).toEqual({ type: "overloaded_error", message: "Overloaded" });
  });
});

/** The `data:` JSON of each event of an SSE body, with its event name. */
async function events(body: unknown) {
  const response = await fetch(`${mock.url}/v1/messages`, { method: "POST", headers: HEADERS, body: JSON.stringify(body) });
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const text = await response.text();
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((event) => {
      const [name, data] = event.split("\n");
      return { event: name!.slice("event: ".length), data: JSON.parse(data!.slice("data: ".length)) };
    });
}

describe("mock anthropic streams in the recorded order", () => {
  test("thinking, text and two tools, with pings, signature and cache usage", async () => {
    mock.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Two cities." },
          { type: "text", text: "Checking both." },
          { type: "tool_use", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", name: "get_weather", input: {} },
        ],
        pings: true,
        usage: { input_tokens: 3, output_tokens: 40, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 },
      }),
    );
    const all = await events({ ...BASE, stream: true, tools: TOOLS });
    const names = all.map((event) => event.event);
    expect(names[0]).toBe("message_start");
    expect(names.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(names).toContain("ping");
    for (const event of all) expect(event.data.type).toBe(event.event);
    expect(all[0]!.data.message.usage).toMatchObject({ input_tokens: 3, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 });
    const deltas = all.filter((event) => event.event === "content_block_delta").map((event) => event.data);
    expect(
      deltas
        .filter((d) => d.delta.type === "thinking_delta")
        .map((d) => d.delta.thinking)
        .join(""),
    ).toBe("Two cities.");
    expect(deltas.find((d) => d.delta.type === "signature_delta")!.delta.signature).toBe(signatureOf("Two cities."));
    expect(
      deltas
        .filter((d) => d.index === 2)
        .map((d) => d.delta.partial_json)
        .join(""),
    ).toBe('{"city":"Oslo"}');
    expect(deltas.filter((d) => d.index === 3).map((d) => d.delta.partial_json)).toEqual([""]);
    expect(all.at(-2)!.data).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { output_tokens: 40 } });
    // Blocks never overlap: every start is closed before the next one opens.
    const order = all.filter((event) => event.event.startsWith("content_block_")).map((event) => `${event.event}:${event.data.index}`);
    let open: number | null = null;
    for (const step of order) {
      const [name, index] = step.split(":");
      if (name === "content_block_start") {
        expect(open).toBeNull();
        open = Number(index);
      } else expect(Number(index)).toBe(open!);
      if (name === "content_block_stop") open = null;
    }
  });

  test("an error event mid-stream ends it", async () => {
    mock.willReply(anthropicReply.text("Hello there", { errorAfterEvents: 3 }));
    const all = await events({ ...BASE, stream: true });
    expect(all.length).toBe(4);
    expect(all.at(-1)).toEqual({ event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } });
  });

  test("chunkBytes cuts the same body into pieces", async () => {
    mock.willReply(anthropicReply.text("Hello there", { chunkBytes: 7 }));
    const all = await events({ ...BASE, stream: true });
    expect(
      all
        .filter((event) => event.event === "content_block_delta")
        .map((event) => event.data.delta.text)
        .join(""),
    ).toBe("Hello there");
  });
});
