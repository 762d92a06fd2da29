import { describe, expect, test } from "bun:test";
import { ProxyError } from "../../model/errors";
import { toMessagesRequest, type ChatBody, type RequestOptions } from "./request";
import type { ReplayedThinking } from "./types";

const OPTS: RequestOptions = { model: "claude-backend", maxTokens: 4096 };
const translate = (body: ChatBody, opts: Partial<RequestOptions> = {}) => toMessagesRequest(body, { ...OPTS, ...opts });
const user = (content: unknown) => ({ role: "user", content });

/** The ProxyError a body is refused with. */
function refusal(body: ChatBody, opts: Partial<RequestOptions> = {}): ProxyError {
  try {
    translate(body, opts);
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error("the body was not refused");
}

const TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const call = (id: string, args: string, name = "get_weather") => ({ id, type: "function", function: { name, arguments: args } });
const TOOL_LOOP: Record<string, any>[] = [
  user("Weather in Oslo and Rome?"),
  { role: "assistant", content: null, tool_calls: [call("toolu_a", '{"city":"Oslo"}'), call("toolu_b", '{"city":"Rome"}')] },
  { role: "tool", tool_call_id: "toolu_a", content: "sunny" },
  { role: "tool", tool_call_id: "toolu_b", content: "rainy" },
];

describe("the minimal request", () => {
  test("model, max_tokens from the options, one user turn of text blocks: nothing else", () => {
    expect(translate({ model: "client-id", messages: [user("Hi")] })).toEqual({
      model: "claude-backend",
      max_tokens: 4096,
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
    });
  });

  test("only fields the Messages API knows are sent, whatever the client adds", () => {
    const request = translate({
      model: "m",
      messages: [user("Hi")],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.5,
      top_p: 0.9,
      presence_penalty: 1,
      frequency_penalty: 1,
      seed: 7,
      logprobs: true,
      top_logprobs: 2,
      logit_bias: { 1: 2 },
      n: 1,
      response_format: { type: "json_object" },
      service_tier: "auto",
      store: true,
      parallel_tool_calls: true,
      user: "u-1",
      max_completion_tokens: 10,
      modalities: ["text"],
      prediction: null,
      metadata: { a: "b" },
      web_search_options: {},
    });
    const known = [
      "model",
      "messages",
      "max_tokens",
      "system",
      "metadata",
      "stop_sequences",
      "stream",
      "temperature",
      "top_p",
      "top_k",
      "tools",
      "tool_choice",
      "thinking",
    ];
    expect(Object.keys(request).filter((key) => !known.includes(key))).toEqual([]);
    expect(request).toEqual({
      model: "claude-backend",
      max_tokens: 10,
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
      metadata: { user_id: "u-1" },
      stream: true,
      temperature: 0.5,
    });
  });

  test("stream false is left out; n above 1 is refused", () => {
    expect(translate({ messages: [user("Hi")], stream: false }).stream).toBeUndefined();
    expect(refusal({ messages: [user("Hi")], n: 2 })).toMatchObject({ status: 400, param: "n" });
  });
});

describe("system and developer messages", () => {
  test("every one goes to the top-level system, in order, wherever it stood; empty ones are dropped", () => {
    const request = translate({
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "developer",
          content: [
            { type: "text", text: "Use metric units." },
            { type: "text", text: " " },
          ],
        },
        user("Hi"),
        { role: "system", content: "" },
        { role: "assistant", content: "Hello" },
        { role: "system", content: "Late rule." },
        user("Weather?"),
      ],
    });
    expect(request.system).toEqual([
      { type: "text", text: "Be brief." },
      { type: "text", text: "Use metric units." },
      { type: "text", text: "Late rule." },
    ]);
    expect(request.messages.map((message) => message.role)).toEqual(["user", "assistant", "user"]);
  });

  test("a cache_control mark on a part is kept", () => {
    const request = translate({
      messages: [{ role: "system", content: [{ type: "text", text: "Long rules", cache_control: { type: "ephemeral" } }] }, user("Hi")],
    });
    expect(request.system).toEqual([{ type: "text", text: "Long rules", cache_control: { type: "ephemeral" } }]);
  });

  test("an image in a system message is refused", () => {
    expect(refusal({ messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "https://x/a.png" } }] }, user("Hi")] }).status).toBe(400);
  });
});

describe("text and image parts", () => {
  const image = (url: unknown) => ({ type: "image_url", image_url: typeof url === "string" ? { url, detail: "high" } : url });

  test("data: URLs become base64 sources, http(s) URLs url sources, text parts text blocks", () => {
    const request = translate({
      messages: [
        user([
          { type: "text", text: "What is this?" },
          image("data:image/png;base64,iVBORw0K"),
          image("https://example.com/cat.webp"),
          image("data:image/jpg;base64,/9j/4AAQ"),
        ]),
      ],
    });
    expect(request.messages[0]!.content).toEqual([
      { type: "text", text: "What is this?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0K" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.webp" } },
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
    ]);
  });

  test("an image_url given as a bare string is read too", () => {
    expect(translate({ messages: [user([image({ url: "data:image/gif;base64,R0lG" })])] }).messages[0]!.content).toEqual([
      { type: "image", source: { type: "base64", media_type: "image/gif", data: "R0lG" } },
    ]);
  });

  test("media types Anthropic does not accept are a clear 400 before any backend call", () => {
    const error = refusal({ messages: [user([image("data:image/svg+xml;base64,PHN2Zz4=")])] });
    expect(error).toMatchObject({ status: 400, type: "invalid_request_error", code: "unsupported_image_type", param: "messages[0].content[0]" });
    expect(error.message).toContain("image/svg+xml");
    expect(error.message).toContain("image/jpeg, image/png, image/gif, image/webp");
  });

  test("a data: URL that is not base64, a URL of another scheme, a missing url: 400", () => {
    expect(refusal({ messages: [user([image("data:image/png,rawbytes")])] }).message).toContain("base64");
    expect(refusal({ messages: [user([image("ftp://example.com/a.png")])] }).status).toBe(400);
    expect(refusal({ messages: [user([{ type: "image_url", image_url: {} }])] }).status).toBe(400);
  });

  test("parts with no Anthropic equivalent are refused, naming the part", () => {
    const error = refusal({ messages: [user([{ type: "input_audio", input_audio: { data: "x", format: "wav" } }])] });
    expect(error).toMatchObject({ status: 400, param: "messages[0].content[0]" });
    expect(error.message).toContain("input_audio");
  });

  test("empty and whitespace-only text is never sent; a message left empty disappears and its neighbours merge", () => {
    const request = translate({
      messages: [
        user("Hi"),
        { role: "assistant", content: [{ type: "text", text: "" }] },
        user([
          { type: "text", text: "  " },
          { type: "text", text: "there" },
        ]),
      ],
    });
    expect(request.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Hi" },
          { type: "text", text: "there" },
        ],
      },
    ]);
  });
});

describe("turns", () => {
  test("consecutive messages of one role are merged into one turn", () => {
    const request = translate({ messages: [user("a"), user("b"), { role: "assistant", content: "c" }, { role: "assistant", content: "d" }, user("e")] });
    expect(request.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "text", text: "c" },
          { type: "text", text: "d" },
        ],
      },
      { role: "user", content: [{ type: "text", text: "e" }] },
    ]);
  });

  test("a conversation starting with the assistant gets a user turn before it", () => {
    const request = translate({ messages: [{ role: "assistant", content: "How can I help?" }, user("Weather?")] });
    expect(request.messages.map((message) => message.role)).toEqual(["user", "assistant", "user"]);
  });

  test("a final assistant turn (a prefill) loses its trailing whitespace", () => {
    const request = translate({ messages: [user("Hi"), { role: "assistant", content: "The answer is " }] });
    expect(request.messages.at(-1)).toEqual({ role: "assistant", content: [{ type: "text", text: "The answer is" }] });
  });

  test("only a system prompt, as OpenAI takes it: the prompt as system, and the opening user turn", () => {
    const request = translate({ messages: [{ role: "system", content: "Write a haiku about the sea." }] });
    expect(request.system).toEqual([{ type: "text", text: "Write a haiku about the sea." }]);
    expect(request.messages).toEqual([{ role: "user", content: [{ type: "text", text: "." }] }]);
  });

  test("no message with content, or an unknown role: 400", () => {
    expect(refusal({ messages: [] }).status).toBe(400);
    expect(refusal({ messages: [{ role: "user", content: "" }] }).status).toBe(400);
    expect(refusal({ messages: [{ role: "critic", content: "x" }] })).toMatchObject({ status: 400, param: "messages[0].role" });
    expect(refusal({ messages: "Hi" }).status).toBe(400);
  });
});

describe("tools", () => {
  test("function tools become input_schema tools; a tool without parameters gets an empty object schema", () => {
    const request = translate({ messages: [user("Hi")], tools: [TOOL, { type: "function", function: { name: "now" } }] });
    expect(request.tools).toEqual([
      {
        name: "get_weather",
        description: "Weather for a city",
        input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
      { name: "now", input_schema: { type: "object", properties: {} } },
    ]);
    expect(request.tool_choice).toBeUndefined(); // auto is the API's default
  });

  test("tools other than functions are refused", () => {
    expect(refusal({ messages: [user("Hi")], tools: [{ type: "custom", custom: { name: "x" } }] })).toMatchObject({ status: 400, param: "tools[0]" });
  });

  const choice = (toolChoice: unknown, extra: ChatBody = {}) =>
    translate({ messages: [user("Hi")], tools: [TOOL], tool_choice: toolChoice, ...extra }).tool_choice;

  test("tool_choice: auto, required → any, none, a named function → tool", () => {
    expect(choice("auto")).toEqual({ type: "auto" });
    expect(choice("required")).toEqual({ type: "any" });
    expect(choice("none")).toEqual({ type: "none" });
    expect(choice({ type: "function", function: { name: "get_weather" } })).toEqual({ type: "tool", name: "get_weather" });
    expect(() => choice("sometimes")).toThrow(ProxyError);
    expect(() => choice("constructor")).toThrow(ProxyError);
  });

  test("parallel_tool_calls: false → disable_parallel_tool_use, on every choice that can call", () => {
    expect(choice(undefined, { parallel_tool_calls: false })).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(choice("required", { parallel_tool_calls: false })).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(choice({ type: "function", function: { name: "get_weather" } }, { parallel_tool_calls: false })).toEqual({
      type: "tool",
      name: "get_weather",
      disable_parallel_tool_use: true,
    });
    expect(choice("none", { parallel_tool_calls: false })).toEqual({ type: "none" });
  });

  test("tool_choice without tools is left out", () => {
    expect(translate({ messages: [user("Hi")], tool_choice: "required" })).not.toHaveProperty("tool_choice");
  });

  test("the legacy functions and function_call fields", () => {
    const request = translate({ messages: [user("Hi")], functions: [TOOL.function], function_call: { name: "get_weather" } });
    expect(request.tools?.map((tool) => tool.name)).toEqual(["get_weather"]);
    expect(request.tool_choice).toEqual({ type: "tool", name: "get_weather" });
  });
});

describe("tool calls and results", () => {
  test("assistant tool_calls → tool_use blocks after its text; consecutive tool messages → one user turn of results", () => {
    const [first, text] = [TOOL_LOOP[0], { role: "assistant", content: "Checking.", tool_calls: TOOL_LOOP[1]!.tool_calls }];
    const request = translate({ messages: [first, text, ...TOOL_LOOP.slice(2)], tools: [TOOL] });
    expect(request.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Oslo and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", id: "toolu_b", name: "get_weather", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_a", content: [{ type: "text", text: "sunny" }] },
          { type: "tool_result", tool_use_id: "toolu_b", content: [{ type: "text", text: "rainy" }] },
        ],
      },
    ]);
  });

  test("a user message after the results joins their turn, after them", () => {
    const request = translate({ messages: [...TOOL_LOOP, user("And Paris?")], tools: [TOOL] });
    expect(request.messages).toHaveLength(3);
    expect(request.messages[2]!.content.map((block) => block.type)).toEqual(["tool_result", "tool_result", "text"]);
  });

  test("invalid, empty or non-object JSON arguments become {}", () => {
    for (const args of ["", "{not json", "[1,2]", '"text"', "null"]) {
      const request = translate({
        messages: [user("x"), { role: "assistant", tool_calls: [call("t1", args)] }, { role: "tool", tool_call_id: "t1", content: "ok" }],
        tools: [TOOL],
      });
      expect(request.messages[1]!.content).toEqual([{ type: "tool_use", id: "t1", name: "get_weather", input: {} }]);
    }
  });

  test("an empty tool result is sent without content (an empty text block would be refused)", () => {
    const request = translate({
      messages: [user("x"), { role: "assistant", tool_calls: [call("t1", "{}")] }, { role: "tool", tool_call_id: "t1", content: "" }],
      tools: [TOOL],
    });
    expect(request.messages[2]!.content).toEqual([{ type: "tool_result", tool_use_id: "t1" }]);
  });

  test("ids outside the API's alphabet are rewritten, the same way in the call and its result", () => {
    const request = translate({
      messages: [
        user("x"),
        { role: "assistant", tool_calls: [call("functions.get_weather:0", "{}")] },
        { role: "tool", tool_call_id: "functions.get_weather:0", content: "ok" },
      ],
      tools: [TOOL],
    });
    const use = request.messages[1]!.content[0] as { id: string };
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(use.id.startsWith("functions_get_weather_0_")).toBe(true);
    expect(request.messages[2]!.content[0]).toMatchObject({ tool_use_id: use.id });
    // Two ids that differ only in characters outside the alphabet stay two ids.
    const other = translate({
      messages: [
        user("x"),
        { role: "assistant", tool_calls: [call("functions.get_weather_0", "{}")] },
        { role: "tool", tool_call_id: "functions.get_weather_0", content: "ok" },
      ],
      tools: [TOOL],
    });
    expect((other.messages[1]!.content[0] as { id: string }).id).not.toBe(use.id);
  });

  test("an id reused in a later turn (servers that number calls per turn) is made unique", () => {
    const request = translate({
      messages: [
        user("x"),
        { role: "assistant", tool_calls: [call("call_0", "{}")] },
        { role: "tool", tool_call_id: "call_0", content: "one" },
        { role: "assistant", tool_calls: [call("call_0", "{}")] },
        { role: "tool", tool_call_id: "call_0", content: "two" },
      ],
      tools: [TOOL],
    });
    const ids = request.messages.flatMap((message) =>
      message.content.map((block) => ("id" in block ? block.id : "tool_use_id" in block ? block.tool_use_id : null)),
    );
    expect(ids).toEqual([null, "call_0", "call_0", "call_0_2", "call_0_2"]);
  });

  test("a result without its call, or a call without its result, is the client's 400 (OpenAI refuses both too)", () => {
    expect(refusal({ messages: [user("x"), { role: "tool", tool_call_id: "t9", content: "?" }], tools: [TOOL] }).message).toContain("t9");
    expect(refusal({ messages: [...TOOL_LOOP.slice(0, 3), user("next")], tools: [TOOL] }).message).toContain("toolu_b");
    expect(refusal({ messages: TOOL_LOOP.slice(0, 2), tools: [TOOL] }).message).toContain("toolu_a");
    expect(refusal({ messages: [...TOOL_LOOP, { role: "tool", tool_call_id: "toolu_a", content: "again" }], tools: [TOOL] }).status).toBe(400);
    expect(refusal({ messages: [user("x"), { role: "tool", content: "?" }] })).toMatchObject({ param: "messages[1].tool_call_id" });
  });

  test("a history with tool calls but no tools: the tools it used are declared, and tool_choice none", () => {
    const request = translate({ messages: [...TOOL_LOOP, user("Thanks")] });
    expect(request.tools).toEqual([{ name: "get_weather", input_schema: { type: "object" } }]);
    expect(request.tool_choice).toEqual({ type: "none" });
  });

  test("legacy function_call and function messages", () => {
    const request = translate({
      messages: [
        user("x"),
        { role: "assistant", content: null, function_call: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
        { role: "function", name: "get_weather", content: "sunny" },
      ],
      functions: [TOOL.function],
    });
    const use = request.messages[1]!.content[0] as { id: string };
    expect(request.messages[1]!.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Oslo" } });
    expect(request.messages[2]!.content[0]).toMatchObject({ type: "tool_result", tool_use_id: use.id, content: [{ type: "text", text: "sunny" }] });
    expect(refusal({ messages: [user("x"), { role: "function", name: "nope", content: "?" }] }).status).toBe(400);
  });
});

describe("parameters", () => {
  test("stop → stop_sequences, whitespace-only ones left out", () => {
    expect(translate({ messages: [user("x")], stop: "END" }).stop_sequences).toEqual(["END"]);
    expect(translate({ messages: [user("x")], stop: ["END", " ", "\n", "###"] }).stop_sequences).toEqual(["END", "###"]);
    expect(translate({ messages: [user("x")], stop: ["\n"] })).not.toHaveProperty("stop_sequences");
  });

  test("max_completion_tokens, then max_tokens, then the option; a non-positive value is a 400", () => {
    expect(translate({ messages: [user("x")], max_tokens: 50 }).max_tokens).toBe(50);
    expect(translate({ messages: [user("x")], max_tokens: 50, max_completion_tokens: 70 }).max_tokens).toBe(70);
    expect(translate({ messages: [user("x")], max_tokens: null }).max_tokens).toBe(4096);
    expect(refusal({ messages: [user("x")], max_tokens: 0 })).toMatchObject({ status: 400, param: "max_tokens" });
  });

  test("temperature clamped to [0, 1]; top_p alone passes; with both, temperature wins (newer models refuse both)", () => {
    expect(translate({ messages: [user("x")], temperature: 1.7 }).temperature).toBe(1);
    expect(translate({ messages: [user("x")], temperature: -0.2 }).temperature).toBe(0);
    expect(translate({ messages: [user("x")], top_p: 0.8 }).top_p).toBe(0.8);
    const both = translate({ messages: [user("x")], temperature: 0.3, top_p: 0.8 });
    expect([both.temperature, both.top_p]).toEqual([0.3, undefined]);
    expect(translate({ messages: [user("x")], temperature: null, top_p: 0.8 }).top_p).toBe(0.8);
  });

  test("top_k passes", () => {
    expect(translate({ messages: [user("x")], top_k: 40 }).top_k).toBe(40);
  });

  test("user → metadata.user_id, unless it looks like an e-mail address", () => {
    expect(translate({ messages: [user("x")], user: "7f3a-user" }).metadata).toEqual({ user_id: "7f3a-user" });
    expect(translate({ messages: [user("x")], user: "jane.doe@example.com" })).not.toHaveProperty("metadata");
    expect(translate({ messages: [user("x")], user: "" })).not.toHaveProperty("metadata");
  });

  test("a long user is checked for an e-mail address in time linear in its length (it is the client's to choose)", () => {
    const long = "a".repeat(200_000);
    const started = performance.now();
    for (const id of [long, `a@${long}`, `${long}@${long}`, `${"a@".repeat(100_000)}x`]) {
      expect(translate({ messages: [user("x")], user: id }).metadata).toEqual({ user_id: id });
    }
    expect(translate({ messages: [user("x")], user: `${long} jane@example.com` })).not.toHaveProperty("metadata");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("a json_schema response_format → output_config.format (structured outputs): the answer is JSON of that schema, not prose", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    const request = translate({ messages: [user("x")], response_format: { type: "json_schema", json_schema: { name: "place", strict: true, schema } } });
    expect(request.output_config).toEqual({ format: { type: "json_schema", schema } });
  });

  test("response_format text or json_object sends nothing (Anthropic has no schema-less JSON mode); a json_schema without a schema object, or another type, is a 400", () => {
    expect(translate({ messages: [user("x")], response_format: { type: "text" } })).not.toHaveProperty("output_config");
    expect(translate({ messages: [user("x")], response_format: { type: "json_object" } })).not.toHaveProperty("output_config");
    expect(refusal({ messages: [user("x")], response_format: { type: "json_schema", json_schema: { name: "x" } } })).toMatchObject({
      status: 400,
      param: "response_format.json_schema.schema",
    });
    expect(refusal({ messages: [user("x")], response_format: { type: "grammar" } })).toMatchObject({ status: 400, param: "response_format.type" });
  });
});

describe("a pre-filled answer", () => {
  test("a final assistant turn (Open WebUI's Continue) goes without thinking, which the API refuses with one", () => {
    const request = translate({ messages: [user("Tell me a story"), { role: "assistant", content: "Once upon " }], reasoning_effort: "low" });
    expect(request.thinking).toBeUndefined();
    expect(request.messages.at(-1)).toEqual({ role: "assistant", content: [{ type: "text", text: "Once upon" }] });
  });
});

describe("thinking", () => {
  test("reasoning_effort → a thinking budget; temperature and top_k left out; top_p raised to its floor", () => {
    const request = translate({ messages: [user("x")], reasoning_effort: "medium", temperature: 0.2, top_k: 5, max_tokens: 8000 });
    expect(request.thinking).toEqual({ type: "enabled", budget_tokens: 4096 });
    expect(request).not.toHaveProperty("temperature");
    expect(request).not.toHaveProperty("top_k");
    expect(request.max_tokens).toBe(8000);
    expect(translate({ messages: [user("x")], reasoning_effort: "low", top_p: 0.5 }).top_p).toBe(0.95);
  });

  test("Claude 4.6 and later think adaptively: reasoning_effort (or a budget) becomes output_config.effort, max_tokens as asked", () => {
    for (const model of [
      "claude-opus-4-6",
      "claude-sonnet-4-6",
      "anthropic.claude-opus-4-7",
      "claude-sonnet-5",
      "claude-opus-5-1-20270101",
      "claude-mythos-preview",
    ]) {
      const request = translate({ messages: [user("x")], reasoning_effort: "xhigh", max_tokens: 2000, temperature: 0.2 }, { model });
      expect({ model, thinking: request.thinking, config: request.output_config, max: request.max_tokens, temperature: request.temperature }).toEqual({
        model,
        thinking: { type: "adaptive" },
        config: { effort: "high" },
        max: 2000,
        temperature: undefined,
      });
    }
    const budgeted = translate({ messages: [user("x")], thinking: { type: "enabled", budget_tokens: 5000 } }, { model: "claude-opus-4-7" });
    expect([budgeted.thinking, budgeted.output_config]).toEqual([{ type: "adaptive" }, { effort: "medium" }]);
    // Structured outputs and the effort share output_config.
    const both = translate(
      { messages: [user("x")], reasoning_effort: "low", response_format: { type: "json_schema", json_schema: { name: "a", schema: { type: "object" } } } },
      { model: "claude-sonnet-4-6" },
    );
    expect(both.output_config).toEqual({ format: { type: "json_schema", schema: { type: "object" } }, effort: "low" });
    // Earlier models keep a fixed budget, and take a client's adaptive as the medium one.
    for (const model of ["claude-opus-4-20250514", "claude-opus-4-1-20250805", "claude-sonnet-4-5", "claude-3-7-sonnet-latest", "claude-haiku-4-5@20251001"]) {
      const request = translate({ messages: [user("x")], reasoning_effort: "high", max_tokens: 20000 }, { model });
      expect({ model, thinking: request.thinking, config: request.output_config }).toEqual({
        model,
        thinking: { type: "enabled", budget_tokens: 16384 },
        config: undefined,
      });
    }
    expect(translate({ messages: [user("x")], thinking: { type: "adaptive" } }, { model: "claude-sonnet-4-5" }).thinking).toEqual({
      type: "enabled",
      budget_tokens: 4096,
    });
    expect(translate({ messages: [user("x")], reasoning_effort: "none" }, { model: "claude-opus-4-7" }).thinking).toBeUndefined();
  });

  test("each effort has its budget; none turns thinking off; anything else is a 400", () => {
    const budget = (effort: string) => {
      const { thinking } = translate({ messages: [user("x")], reasoning_effort: effort });
      return thinking?.type === "enabled" ? thinking.budget_tokens : undefined;
    };
    expect([budget("minimal"), budget("low"), budget("medium"), budget("high")]).toEqual([1024, 1024, 4096, 16384]);
    expect(budget("none")).toBeUndefined();
    expect(refusal({ messages: [user("x")], reasoning_effort: "extreme" })).toMatchObject({ status: 400, param: "reasoning_effort" });
    expect(refusal({ messages: [user("x")], reasoning_effort: "toString" }).status).toBe(400);
  });

  test("max_tokens is raised above the budget when it is not", () => {
    expect(translate({ messages: [user("x")], reasoning_effort: "high", max_tokens: 1000 }).max_tokens).toBe(17384);
    expect(translate({ messages: [user("x")], reasoning_effort: "high" }).max_tokens).toBe(16384 + 4096);
  });

  test("a forced tool_choice becomes auto (the API refuses forced tools with thinking)", () => {
    expect(translate({ messages: [user("x")], tools: [TOOL], tool_choice: "required", reasoning_effort: "low" }).tool_choice).toEqual({ type: "auto" });
    expect(
      translate({
        messages: [user("x")],
        tools: [TOOL],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
        reasoning_effort: "low",
      }).tool_choice,
    ).toEqual({
      type: "auto",
      disable_parallel_tool_use: true,
    });
  });

  test("Anthropic's own thinking field, sent by some clients, is honoured", () => {
    expect(translate({ messages: [user("x")], thinking: { type: "enabled", budget_tokens: 2000 }, max_tokens: 5000 }).thinking).toEqual({
      type: "enabled",
      budget_tokens: 2000,
    });
    expect(translate({ messages: [user("x")], thinking: { type: "disabled" }, reasoning_effort: "high" })).not.toHaveProperty("thinking");
    expect(refusal({ messages: [user("x")], thinking: { type: "enabled", budget_tokens: 10 } }).status).toBe(400);
  });

  const SIGNED: ReplayedThinking[] = [
    { type: "thinking", thinking: "Two cities: call twice.", signature: "sig-1" },
    { type: "redacted_thinking", data: "opaque" },
  ];

  test("kept thinking is put back first in the assistant turn that made the calls, looked up by the client's ids", () => {
    const asked: (readonly string[])[] = [];
    const request = translate(
      { messages: TOOL_LOOP, tools: [TOOL], reasoning_effort: "low" },
      {
        thinkingFor: (ids) => {
          asked.push(ids);
          return SIGNED;
        },
      },
    );
    expect(asked).toEqual([["toolu_a", "toolu_b"]]);
    expect(request.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
    expect(request.messages[1]!.content.map((block) => block.type)).toEqual(["thinking", "redacted_thinking", "tool_use", "tool_use"]);
    expect(request.messages[1]!.content[0]).toEqual(SIGNED[0]!);
  });

  test("without the thinking of the last tool-calling turn, thinking is left off (the API would refuse it)", () => {
    const request = translate({ messages: TOOL_LOOP, tools: [TOOL], reasoning_effort: "low", temperature: 0.4 }, { thinkingFor: () => undefined });
    expect(request).not.toHaveProperty("thinking");
    expect(request.temperature).toBe(0.4);
    expect(request.messages[1]!.content.map((block) => block.type)).toEqual(["tool_use", "tool_use"]);
  });

  test("an earlier tool turn without kept thinking does not stop thinking once the loop is over", () => {
    const request = translate({
      messages: [...TOOL_LOOP, { role: "assistant", content: "Oslo sunny, Rome rainy." }, user("Thanks")],
      tools: [TOOL],
      reasoning_effort: "low",
    });
    expect(request.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
  });

  test("without thinking, kept thinking is not looked up", () => {
    let asked = false;
    translate({ messages: TOOL_LOOP, tools: [TOOL] }, { thinkingFor: () => ((asked = true), SIGNED) });
    expect(asked).toBe(false);
  });
});
