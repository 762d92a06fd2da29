// POST /v1/messages and /v1/messages/count_tokens, black box: the official @anthropic-ai/sdk talks
// to the proxy, which relays natively to the strict Anthropic mock, and translates to chat
// completions for an OpenAI-compatible mock and for the Gemini mock. messages.create,
// messages.stream().finalMessage() (the SDK throws on events out of Anthropic's order), tool use over
// two turns, countTokens (also on a model mixing providers), native streams byte for byte, streams
// that break off, and errors in Anthropic's shape.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { anthropicReply, cut, startMockAnthropic, streamEvents, type MockAnthropic } from "../support/mock-anthropic";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { geminiReply, mockUsage, startMockGemini, type MockGemini } from "../support/mock-gemini";
import { CLIENT_KEY, removeTempDirs, SLOW_TIMEOUTS, startProxy, type ProxyHandle } from "../support/proxy";
import { requestEnded, usageRow } from "../support/translated";
import { registerSecret } from "../support/transcript";

const ANTHROPIC_KEY = registerSecret("sk-ant-messages-test-0123456789-SECRET", "messages test: anthropic backend key");
const OPENAI_KEY = registerSecret("sk-oai-messages-test-0123456789-SECRET", "messages test: openai backend key");
const GEMINI_KEY = registerSecret("AIzaSy-messages-test-0123456789-SECRET", "messages test: gemini backend key");
/** A client key that may use only the `local` model. */
const LOCAL_ONLY_KEY = "client-key-local-only-messages";
const MAX_BODY_BYTES = 256 * 1024;

let anthropic: MockAnthropic;
let openai: MockBackend;
let gemini: MockGemini;
let proxy: ProxyHandle;
let client: Anthropic;

const WEATHER_TOOL = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

const sse = (chunks: unknown[]) => [...chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`), "data: [DONE]\n\n"];
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: "chatcmpl-x",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "oai-model",
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usageChunk = (prompt: number, completion: number) => ({
  id: "chatcmpl-x",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "oai-model",
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

beforeAll(async () => {
  anthropic = startMockAnthropic(ANTHROPIC_KEY);
  openai = startMock("oai");
  gemini = startMockGemini(GEMINI_KEY);
  proxy = await startProxy(
    {
      clientKeys: [
        { key: CLIENT_KEY, name: "messages-client" },
        { key: LOCAL_ONLY_KEY, name: "local-only", models: ["local"] },
      ],
      maxBodyBytes: MAX_BODY_BYTES,
      limits: { perModel: { limited: { rpm: 1 } } },
      endpoints: {
        claude: { provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-sonnet-4-5" },
        local: { url: openai.url, apiKey: OPENAI_KEY, actualModelName: "oai-model", aliases: ["claude-haiku-*"] },
        // Falls back from Claude to the OpenAI-compatible backend, over /v1/messages too.
        "claude-fb": {
          provider: "anthropic",
          url: anthropic.url,
          apiKey: ANTHROPIC_KEY,
          actualModelName: "claude-opus-4-1",
          retry: { attempts: 1 },
          fallbacks: ["local"],
        },
        azure: { provider: "azure", url: openai.url, apiKey: OPENAI_KEY, actualModelName: "gpt-dep", apiVersion: "2024-10-21" },
        limited: { url: openai.url, apiKey: OPENAI_KEY, actualModelName: "oai-model" },
        stalling: { url: openai.url, apiKey: OPENAI_KEY, actualModelName: "oai-model", timeouts: SLOW_TIMEOUTS },
        // An Anthropic backend (played by the scriptable mock) whose streams may stall.
        "claude-stalling": { provider: "anthropic", url: openai.url, apiKey: OPENAI_KEY, actualModelName: "claude-x", timeouts: SLOW_TIMEOUTS },
        flash: { provider: "gemini", url: gemini.url, apiKey: GEMINI_KEY, actualModelName: "gemini-3-flash-preview" },
        // Two providers behind one id, taken in turn.
        mixed: {
          strategy: "round-robin",
          targets: [
            { name: "mixed-oai", url: openai.url, apiKey: OPENAI_KEY, actualModelName: "oai-model" },
            { name: "mixed-claude", provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-sonnet-4-5" },
          ],
        },
      },
    },
    { label: "messages proxy log" },
  );
  client = new Anthropic({ baseURL: proxy.url(""), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => {
  anthropic.reset();
  openai.reset();
  gemini.reset();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([anthropic.stop(), openai.stop(), gemini.stop()]);
  removeTempDirs();
});

describe("an Anthropic target: relayed natively", () => {
  test("messages.create: only the model and the key change; anthropic-version and anthropic-beta pass", async () => {
    anthropic.willReply(anthropicReply.text("Hello from Claude", { usage: { input_tokens: 12, output_tokens: 4 } }));
    const message = await client.messages.create(
      { model: "claude", max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "Hi" }] },
      { headers: { "anthropic-beta": "prompt-caching-2024-07-31", "anthropic-version": "2023-06-01" } },
    );
    expect(message.content).toEqual([{ type: "text", text: "Hello from Claude" }] as any);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage.input_tokens).toBe(12);
    const seen = anthropic.last;
    expect(seen.refusal).toBeNull();
    expect(seen.path).toBe("/v1/messages");
    expect(seen.body).toEqual({ model: "claude-sonnet-4-5", max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "Hi" }] });
    expect(seen.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(seen.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(seen.headers.get("anthropic-beta")).toBe("prompt-caching-2024-07-31");
    expect(seen.headers.get("authorization")).toBeNull();
    expect([...seen.headers].join()).not.toContain(CLIENT_KEY);
  });

  test("messages.stream().finalMessage(): thinking and text, the backend's events as they are; usage recorded", async () => {
    anthropic.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Let me think." },
          { type: "text", text: "Streaming from Claude." },
        ],
        pings: true,
        usage: { input_tokens: 9, output_tokens: 7 },
      }),
    );
    const stream = client.messages.stream({
      model: "claude",
      max_tokens: 2000,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "Hi" }],
    });
    const message = await stream.finalMessage();
    expect(message.content.map((block) => block.type)).toEqual(["thinking", "text"]);
    expect((message.content[1] as Anthropic.TextBlock).text).toBe("Streaming from Claude.");
    expect(message.usage).toMatchObject({ input_tokens: 9, output_tokens: 7 });
    const { response } = await stream.withResponse();
    const row = await usageRow(proxy, await requestEnded(proxy, response));
    expect(row).toMatchObject({ model: "claude", prompt_tokens: 9, completion_tokens: 7 });
  });

  test("a stream is relayed byte for byte: the client gets exactly the backend's bytes (escaped characters, chunks cut inside characters)", async () => {
    const events = streamEvents(
      {
        content: [
          { type: "thinking", thinking: "Grübeln über 👋 und 日本語." },
          { type: "text", text: "Grüße 👋 aus Köln — 日本語も。" },
          { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Zürich" } },
        ],
        pings: true,
        usage: { input_tokens: 9, cache_read_input_tokens: 3, output_tokens: 7 },
      },
      "claude-sonnet-4-5",
    );
    // Every other event with its characters escaped, as an ASCII-only JSON encoder writes them, the
    // rest as UTF-8 cut into 7-byte chunks: a relay that re-serialized events, or decoded and
    // re-encoded chunks, would change bytes.
    const escaped = (text: string) => text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const body = events.map((event, i) => (i % 2 === 1 ? escaped(event) : event)).join("");
    expect(body).toContain("\\u00fc");
    expect(body).toContain("ü");
    anthropic.willReply(anthropicReply.sse(cut(body, 7)));
    const response = await fetch(proxy.url("/v1/messages"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude", max_tokens: 2000, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new TextEncoder().encode(body));
  });

  test("tool use over two turns, natively", async () => {
    anthropic.willReply(anthropicReply.answer({ content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Oslo" } }] }));
    const first = await client.messages.create({
      model: "claude",
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [{ role: "user", content: "Weather in Oslo?" }],
    });
    expect(first.stop_reason).toBe("tool_use");
    anthropic.willReply(anthropicReply.text("It is sunny."));
    const second = await client.messages.create({
      model: "claude",
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: first.content as Anthropic.ContentBlockParam[] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "sunny" }] },
      ],
    });
    expect(anthropic.last.refusal).toBeNull();
    expect(second.content).toEqual([{ type: "text", text: "It is sunny." }] as any);
  });

  test("a 529 overloaded_error is answered (and judged) as a 503, its body as it came", async () => {
    anthropic.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded"));
    const error = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(error.status).toBe(503);
    expect(error.error).toMatchObject({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
  });

  test("countTokens is forwarded", async () => {
    const result = await client.messages.countTokens({ model: "claude", messages: [{ role: "user", content: "Hello there" }] });
    expect(anthropic.last.path).toBe("/v1/messages/count_tokens");
    expect(anthropic.last.body.model).toBe("claude-sonnet-4-5");
    expect(result.input_tokens).toBeGreaterThan(0);
  });
});

describe("an OpenAI-compatible target: translated to chat completions", () => {
  test("messages.create: system, text and an image in, the answer back; an alias resolves", async () => {
    openai.willReply(
      reply.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1700000000,
        model: "oai-model",
        choices: [{ index: 0, message: { role: "assistant", content: "Hello from vLLM" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
      }),
    );
    const message = await client.messages.create({
      model: "claude-haiku-4-5-20251001",
      max_tokens: 50,
      system: [{ type: "text", text: "Be brief." }],
      stop_sequences: ["END"],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
      ],
    });
    expect(message.type).toBe("message");
    expect(message.role).toBe("assistant");
    expect(message.model).toBe("claude-haiku-4-5-20251001");
    expect(message.content).toEqual([{ type: "text", text: "Hello from vLLM" }] as any);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 3 });
    const seen = openai.last;
    expect(seen.pathname).toBe("/v1/chat/completions");
    expect(seen.headers.get("authorization")).toBe(`Bearer ${OPENAI_KEY}`);
    expect(seen.headers.get("anthropic-version")).toBeNull();
    expect(seen.json()).toEqual({
      model: "oai-model",
      max_tokens: 50,
      stop: ["END"],
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          ],
        },
      ],
    });
  });

  test("messages.stream().finalMessage(): text then a tool call, stop_reason tool_use, include_usage asked, usage recorded", async () => {
    openai.willReply(
      reply.sse(
        sse([
          chunk({ role: "assistant", content: "" }),
          chunk({ reasoning_content: "Need the weather." }),
          chunk({ content: "Let me " }),
          chunk({ content: "check." }),
          chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
          chunk({ tool_calls: [{ index: 1, id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Bergen"}' } }] }),
          chunk({}, "tool_calls"),
          usageChunk(40, 12),
        ]),
      ),
    );
    const stream = client.messages.stream({ model: "local", max_tokens: 100, tools: [WEATHER_TOOL], messages: [{ role: "user", content: "Weather?" }] });
    const starts: number[] = [];
    stream.on("streamEvent", (event) => {
      if (event.type === "message_start") starts.push(event.message.usage.input_tokens);
    });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: "thinking", thinking: "Need the weather.", signature: "" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } },
      { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Bergen" } },
    ] as any);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 40, output_tokens: 12 });
    expect(starts.length).toBe(1);
    expect(starts[0]).toBeGreaterThan(0);
    const sent = openai.last.json();
    expect(sent.stream).toBe(true);
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(sent.tools).toEqual([
      { type: "function", function: { name: "get_weather", description: "The weather in a city", parameters: WEATHER_TOOL.input_schema } },
    ]);
    const { response } = await stream.withResponse();
    const row = await usageRow(proxy, await requestEnded(proxy, response));
    expect(row).toMatchObject({ model: "local", prompt_tokens: 40, completion_tokens: 12 });
  });

  test("messages.create over a backend that reports no usage: output_tokens is the estimate from the text (a quarter of its characters), not 0", async () => {
    const { usage: _, ...withoutUsage } = defaultAnswer("x".repeat(40));
    openai.willReply(reply.json(withoutUsage));
    const message = await client.messages.create({ model: "local", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] });
    expect(message.usage.output_tokens).toBe(10);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  test("an image given by URL reaches the backend as an image_url part with that URL", async () => {
    const url = "https://example.com/cat.png?size=large&v=2";
    await client.messages.create({
      model: "local",
      max_tokens: 20,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "url", url } },
            { type: "text", text: "What is this?" },
          ],
        },
      ],
    });
    expect(openai.last.json().messages).toEqual([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url } },
          { type: "text", text: "What is this?" },
        ],
      },
    ]);
  });

  /** `message_start`'s input_tokens of a streamed request, and the stream's final message. */
  async function streamedStart(request: Anthropic.MessageCreateParamsNonStreaming) {
    const stream = client.messages.stream(request);
    const starts: number[] = [];
    stream.on("streamEvent", (event) => {
      if (event.type === "message_start") starts.push(event.message.usage.input_tokens);
    });
    const message = await stream.finalMessage();
    expect(starts.length).toBe(1);
    return { input: starts[0]!, message };
  }

  test("message_start's input_tokens is count_tokens' estimate for the same body when the backend reports usage only at the end", async () => {
    openai.willReply(reply.sse(sse([chunk({ role: "assistant", content: "" }), chunk({ content: "Hi." }, "stop"), usageChunk(40, 2)])));
    const request = {
      model: "local",
      max_tokens: 100,
      system: "Be brief.",
      tools: [WEATHER_TOOL],
      messages: [{ role: "user" as const, content: "Hello there, how are you today?" }],
    };
    const { input, message } = await streamedStart(request);
    const { model, system, tools, messages } = request;
    expect(input).toBe((await client.messages.countTokens({ model, system, tools, messages })).input_tokens);
    // The backend's own count still arrives at the end.
    expect(message.usage.input_tokens).toBe(40);
  });

  test("message_start's input_tokens is the backend's count when its first chunk carries usage", async () => {
    const withUsage = (delta: Record<string, unknown>, prompt: number, completion: number, finish: string | null = null) => ({
      ...chunk(delta, finish),
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    });
    // Continuous usage (vLLM's continuous_usage_stats): every chunk counts the prompt.
    openai.willReply(reply.sse(sse([withUsage({ role: "assistant", content: "" }, 77, 0), withUsage({ content: "Hi." }, 77, 2, "stop")])));
    const { input, message } = await streamedStart({ model: "local", max_tokens: 100, messages: [{ role: "user", content: "Hello" }] });
    expect(input).toBe(77);
    expect(message.usage).toMatchObject({ input_tokens: 77, output_tokens: 2 });
  });

  test("tool use over two turns: tool_result blocks become tool messages, the text after them a user message", async () => {
    openai.willReply(
      reply.json({
        id: "chatcmpl-2",
        object: "chat.completion",
        created: 1700000000,
        model: "oai-model",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "call_9", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
            },
            finish_reason: "tool_calls",
          },
        ],
        usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
      }),
    );
    const first = await client.messages.create({
      model: "local",
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      messages: [{ role: "user", content: "Weather in Oslo?" }],
    });
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toEqual([{ type: "tool_use", id: "call_9", name: "get_weather", input: { city: "Oslo" } }] as any);
    expect(openai.last.json()).toMatchObject({ tool_choice: "required", parallel_tool_calls: false });

    openai.willReply(reply.json({ ...defaultAnswer("Sunny in Oslo.") }));
    const second = await client.messages.create({
      model: "local",
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: first.content as Anthropic.ContentBlockParam[] },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_9", content: [{ type: "text", text: "sunny" }] },
            { type: "text", text: "And tomorrow?" },
          ],
        },
      ],
    });
    expect(second.content).toEqual([{ type: "text", text: "Sunny in Oslo." }] as any);
    expect(second.stop_reason).toBe("end_turn");
    expect(openai.last.json().messages).toEqual([
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_9", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "call_9", content: "sunny" },
      { role: "user", content: "And tomorrow?" },
    ]);
  });

  test("an azure target: the chat completion on Azure's deployment path with api-key", async () => {
    const message = await client.messages.create({ model: "azure", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
    expect(message.content).toEqual([{ type: "text", text: "hello from oai" }] as any);
    expect(openai.last.path).toBe("/openai/deployments/gpt-dep/chat/completions?api-version=2024-10-21");
    expect(openai.last.headers.get("api-key")).toBe(OPENAI_KEY);
    expect(openai.last.headers.get("authorization")).toBeNull();
    expect(openai.last.json()).toEqual({ model: "gpt-dep", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
  });

  test("countTokens: the estimate, no backend call", async () => {
    const result = await client.messages.countTokens({
      model: "local",
      system: "Be brief.",
      messages: [{ role: "user", content: "Hello there, how are you?" }],
    });
    expect(result.input_tokens).toBeGreaterThan(0);
    expect(openai.requests.length).toBe(0);
  });
});

function defaultAnswer(text: string) {
  return {
    id: "chatcmpl-3",
    object: "chat.completion",
    created: 1700000000,
    model: "oai-model",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34 },
  };
}

describe("a Gemini target: translated through the Gemini adapter", () => {
  test("messages.create", async () => {
    gemini.willReply(geminiReply.text("Hello from Gemini", { usage: mockUsage(7, 3) }));
    const message = await client.messages.create({ model: "flash", max_tokens: 50, system: "Be brief.", messages: [{ role: "user", content: "Hi" }] });
    expect(message.content).toEqual([{ type: "text", text: "Hello from Gemini" }] as any);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
    expect(gemini.last.refusal).toBeNull();
    expect(gemini.last.headers.get("x-goog-api-key")).toBe(GEMINI_KEY);
  });

  test("messages.stream().finalMessage() with a call whose STOP comes late, then the second turn", async () => {
    gemini.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }], { text: "Checking.", lateStop: true, usage: mockUsage(20, 8) }));
    const first = await client.messages
      .stream({ model: "flash", max_tokens: 100, tools: [WEATHER_TOOL], messages: [{ role: "user", content: "Weather in Oslo?" }] })
      .finalMessage();
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content.map((block) => block.type)).toEqual(["text", "tool_use"]);
    const call = first.content[1] as Anthropic.ToolUseBlock;
    expect(call).toMatchObject({ name: "get_weather", input: { city: "Oslo" } });
    expect(first.usage).toMatchObject({ input_tokens: 20, output_tokens: 8 });

    gemini.willReply(geminiReply.text("Sunny."));
    const second = await client.messages.create({
      model: "flash",
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: first.content as Anthropic.ContentBlockParam[] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny" }] },
      ],
    });
    expect(gemini.last.refusal).toBeNull();
    expect(second.content).toEqual([{ type: "text", text: "Sunny." }] as any);
  });

  test("countTokens: the estimate", async () => {
    const result = await client.messages.countTokens({ model: "flash", messages: [{ role: "user", content: "Hello" }] });
    expect(result.input_tokens).toBeGreaterThan(0);
    expect(gemini.requests.length).toBe(0);
  });
});

describe("the gateway over Messages traffic", () => {
  test("an overloaded Claude falls back to the OpenAI-compatible model, translated", async () => {
    anthropic.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded"));
    const { data: message, response } = await client.messages
      .create({ model: "claude-fb", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] })
      .withResponse();
    expect(message.content).toEqual([{ type: "text", text: "hello from oai" }] as any);
    expect(response.headers.get("x-cm-proxy-served-by")).toBe("local/local#0");
    expect(anthropic.requests.length).toBe(1);
    expect(openai.requests.length).toBe(1);
  });

  test("limits apply: past the model's rpm, a 429 rate_limit_error with retry-after; token counts never count against them", async () => {
    const messages = [{ role: "user" as const, content: "Hi" }];
    // Claude Code counts tokens before many turns: those calls spend none of the rpm (Anthropic limits them apart).
    for (let i = 0; i < 3; i++) expect((await client.messages.countTokens({ model: "limited", messages })).input_tokens).toBeGreaterThan(0);
    await client.messages.create({ model: "limited", max_tokens: 10, messages });
    const error = await client.messages.create({ model: "limited", max_tokens: 10, messages }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(error.headers.get("retry-after")).not.toBeNull();
    expect((await client.messages.countTokens({ model: "limited", messages })).input_tokens).toBeGreaterThan(0);
  });

  test("a translated stream that breaks off ends with Anthropic's error event, which the SDK throws", async () => {
    openai.willReply(reply.sse(sse([chunk({ role: "assistant", content: "" }), chunk({ content: "partial" })]), { stallAfter: 2 }));
    const stream = client.messages.stream({ model: "stalling", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
    const error = await stream.finalMessage().catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(String(error.message)).toContain("broke off");
  });

  test("a translated stream whose body ends before any finish_reason or [DONE] is no complete answer: the SDK throws", async () => {
    openai.willReply(reply.sse(sse([chunk({ role: "assistant", content: "" }), chunk({ content: "partial" })]).slice(0, -1)));
    const stream = client.messages.stream({ model: "stalling", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
    const error = await stream.finalMessage().catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(String(error.message)).toContain("ended before it finished");
  });

  test("in-stream errors of llama.cpp (an error: line) and Ollama (a bare JSON line) end a translated stream with Anthropic's error event", async () => {
    const begun = `data: ${JSON.stringify(chunk({ role: "assistant", content: "partial" }))}\n\n`;
    for (const [style, failure] of [
      ["llama.cpp", 'error: {"code":500,"message":"the context is full","type":"server_error"}\n\ndata: [DONE]\n\n'],
      ["Ollama", '{"error":"the context is full"}\n'],
    ] as const) {
      openai.willReply(reply.sse([begun, failure]));
      const stream = client.messages.stream({ model: "stalling", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
      const error = await stream.finalMessage().catch((e) => e);
      expect({ style, isApiError: error instanceof Anthropic.APIError, message: String(error?.message) }).toMatchObject({
        style,
        isApiError: true,
        message: expect.stringContaining("the context is full"),
      });
    }
  });

  /** A streamed Messages request's whole body, as the client got it. */
  const streamedText = async (model: string) => {
    const response = await fetch(proxy.url("/v1/messages"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model, max_tokens: 10, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(response.status).toBe(200);
    return response.text();
  };
  const BROKEN_EVENT = `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message: "The backend's answer broke off mid-stream" } })}\n\n`;

  test("a stream that breaks off ends with Anthropic's error event only, not also an OpenAI-shaped one: translated", async () => {
    openai.willReply(reply.sse(sse([chunk({ role: "assistant", content: "" }), chunk({ content: "partial" })]), { stallAfter: 2 }));
    const text = await streamedText("stalling");
    expect(text).toContain("partial");
    expect(text.endsWith(BROKEN_EVENT)).toBe(true);
    expect(text.split("event: error").length).toBe(2);
    expect(text).not.toContain('data: {"error"');
  });

  test("a stream that breaks off ends with Anthropic's error event only, not also an OpenAI-shaped one: native", async () => {
    const events = streamEvents({ content: [{ type: "text", text: "Cut off in the middle" }] }, "claude-x");
    openai.willReply(reply.sse(events, { stallAfter: 4 }));
    expect(await streamedText("claude-stalling")).toBe(events.slice(0, 4).join("") + BROKEN_EVENT);
    expect(openai.last.pathname).toBe("/v1/messages");
  });
});

describe("countTokens on a model that mixes providers, or falls back from Claude", () => {
  const hello = [{ role: "user" as const, content: "Hello there, how are you?" }];
  /** The estimate for `hello`, as a model without an Anthropic target answers it. */
  const estimate = async () => (await client.messages.countTokens({ model: "local", messages: hello })).input_tokens;
  const count = async (model: string) => {
    const { data, response } = await client.messages.countTokens({ model, messages: hello }).withResponse();
    return { tokens: data.input_tokens, servedBy: response.headers.get("x-cm-proxy-served-by") };
  };

  test("round-robin over an Anthropic and an OpenAI-compatible target: counted by Claude, then estimated, in turn; never a 400", async () => {
    const expected = await estimate();
    const counts = [];
    for (let i = 0; i < 4; i++) counts.push(await count("mixed"));
    const servedBy = counts.map((c) => c.servedBy);
    expect(new Set(servedBy)).toEqual(new Set(["mixed/mixed-oai", "mixed/mixed-claude"]));
    for (let i = 1; i < servedBy.length; i++) expect(servedBy[i]).not.toBe(servedBy[i - 1]!);
    for (const { tokens, servedBy } of counts) if (servedBy === "mixed/mixed-oai") expect(tokens).toBe(expected);
    expect(anthropic.requests.map((r) => r.path)).toEqual(["/v1/messages/count_tokens", "/v1/messages/count_tokens"]);
    expect(anthropic.requests.every((r) => r.body.model === "claude-sonnet-4-5" && r.refusal === null)).toBe(true);
    expect(openai.requests.length).toBe(0);
  });

  for (const [status, type] of [
    [500, "api_error"],
    [529, "overloaded_error"],
  ] as const) {
    test(`Claude answering ${status}: the estimate, from the model's other target and from a fallback model`, async () => {
      anthropic.willReply(anthropicReply.error(status, type, "Claude cannot count now"));
      const expected = await estimate();
      const mixed = [await count("mixed"), await count("mixed")];
      expect(mixed).toEqual([
        { tokens: expected, servedBy: "mixed/mixed-oai" },
        { tokens: expected, servedBy: "mixed/mixed-oai" },
      ]);
      // One of the two started at Claude (round-robin), failed there, and was estimated.
      expect(anthropic.requests.length).toBeGreaterThanOrEqual(1);
      anthropic.reset();
      anthropic.willReply(anthropicReply.error(status, type, "Claude cannot count now"));
      expect(await count("claude-fb")).toEqual({ tokens: expected, servedBy: "local/local#0" });
      expect(anthropic.requests.length).toBe(1);
      expect(openai.requests.length).toBe(0);
    });
  }
});

describe("errors in Anthropic's shape", () => {
  test("an unknown model is a 404 not_found_error", async () => {
    const error = await client.messages.create({ model: "nope", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(error.error).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  test("a bad key is a 401 authentication_error, from x-api-key as from a Bearer token", async () => {
    const bad = new Anthropic({ baseURL: proxy.url(""), apiKey: "wrong-key", maxRetries: 0 });
    const error = await bad.messages.create({ model: "local", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(error.error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const bearer = new Anthropic({ baseURL: proxy.url(""), apiKey: null, authToken: CLIENT_KEY, maxRetries: 0 });
    const ok = await bearer.messages.countTokens({ model: "local", messages: [{ role: "user", content: "Hi" }] });
    expect(ok.input_tokens).toBeGreaterThan(0);
  });

  test("without /v1 too; a body that is not a Messages request is a 400 invalid_request_error", async () => {
    const response = await fetch(proxy.url("/messages"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "local", max_tokens: 5 }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const ok = await fetch(proxy.url("/messages"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "local", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ type: "message", content: [{ type: "text", text: "hello from oai" }] });
  });

  test("a model the key may not use is a 403 permission_error", async () => {
    const limited = new Anthropic({ baseURL: proxy.url(""), apiKey: LOCAL_ONLY_KEY, maxRetries: 0 });
    const error = await limited.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(error.error).toMatchObject({ type: "error", error: { type: "permission_error" } });
    const counted = await limited.messages.countTokens({ model: "claude", messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(counted).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(anthropic.requests.length).toBe(0);
  });

  test("a body over maxBodyBytes is a 413 request_too_large", async () => {
    const huge = "x".repeat(MAX_BODY_BYTES);
    const error = await client.messages.create({ model: "local", max_tokens: 10, messages: [{ role: "user", content: huge }] }).catch((e) => e);
    expect(error.status).toBe(413);
    expect(error.error).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    expect(openai.requests.length).toBe(0);
  });

  test("a backend's 500 is a 500 api_error with the backend's message, translated or native", async () => {
    openai.willReply(reply.json({ error: { message: "the GPU fell over", type: "server_error" } }, { status: 500 }));
    const translated = await client.messages.create({ model: "local", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(translated).toBeInstanceOf(Anthropic.InternalServerError);
    expect(translated.status).toBe(500);
    expect(translated.error).toEqual({ type: "error", error: { type: "api_error", message: "the GPU fell over" } });
    anthropic.willReply(anthropicReply.error(500, "api_error", "Internal server error"));
    const native = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(native.status).toBe(500);
    expect(native.error).toMatchObject({ type: "error", error: { type: "api_error", message: "Internal server error" } });
  });

  test("count_tokens without /v1 too", async () => {
    const response = await fetch(proxy.url("/messages/count_tokens"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ input_tokens: expect.any(Number) });
    expect(anthropic.last.path).toBe("/v1/messages/count_tokens");
    const invalid = await fetch(proxy.url("/messages/count_tokens"), {
      method: "POST",
      headers: { "x-api-key": CLIENT_KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "local" }),
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });

  test("a backend's error is in Anthropic's shape with its status; other routes keep OpenAI's", async () => {
    openai.willReply(reply.json({ error: { message: "context too long", type: "BadRequestError", code: 400 } }, { status: 400 }));
    const error = await client.messages.create({ model: "local", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.error).toEqual({ type: "error", error: { type: "invalid_request_error", message: "context too long" } });
    const chat = await fetch(proxy.url("/v1/chat/completions"), {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "nope", messages: [] }),
    });
    expect(chat.status).toBe(404);
    expect((await chat.json()).error.code).toBe("model_not_found");
  });
});
