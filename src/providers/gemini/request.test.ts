import { describe, expect, test } from "bun:test";
import { ProxyError } from "../../model/errors";
import { SKIP_SIGNATURE, THINKING_BUDGETS, toGenerateContentRequest } from "./request";
import { toolCallId } from "./tool-call-id";

const MODEL = { model: "gemini-2.5-flash" };
const PNG = "data:image/png;base64,iVBORw0KGgo=";

const translate = (chat: Record<string, unknown>, opts = MODEL) => toGenerateContentRequest(chat, opts);
const bodyOf = (chat: Record<string, unknown>, opts = MODEL) => translate(chat, opts).body;

/** The ProxyError a translation throws (fails the test when none is thrown). */
function refusal(chat: Record<string, unknown>, opts = MODEL): ProxyError {
  try {
    translate(chat, opts);
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error("expected a 400");
}

const call = (id: string, name: string, args: unknown = "{}") => ({ id, type: "function", function: { name, arguments: args } });

describe("path", () => {
  test("generateContent, or the SSE stream; never a key in the URL", () => {
    const messages = [{ role: "user", content: "hi" }];
    expect(translate({ messages })).toMatchObject({ path: "v1beta/models/gemini-2.5-flash:generateContent", stream: false });
    expect(translate({ messages, stream: true })).toMatchObject({ path: "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", stream: true });
    expect(translate({ messages }, { model: "models/gemini-2.0-flash" }).path).toBe("v1beta/models/gemini-2.0-flash:generateContent");
    expect(translate({ messages }, { model: "tunedModels/mine" }).path).toBe("v1beta/tunedModels/mine:generateContent");
    expect(translate({ messages, stream: true }).path).not.toContain("key=");
  });
});

describe("messages → contents", () => {
  test("every system and developer message goes to systemInstruction, in order, wherever it stands", () => {
    const body = bodyOf({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
        { role: "developer", content: [{ type: "text", text: "Use metric units." }] },
        { role: "assistant", content: "hello" },
        { role: "system", content: "" },
        { role: "system", content: "Answer in English." },
        { role: "user", content: "weather?" },
      ],
    });
    expect(body.systemInstruction).toEqual({ parts: [{ text: "Be brief." }, { text: "Use metric units." }, { text: "Answer in English." }] });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "hi" }] },
      { role: "model", parts: [{ text: "hello" }] },
      { role: "user", parts: [{ text: "weather?" }] },
    ]);
  });

  test("consecutive turns of one role are merged; empty text is left out", () => {
    const body = bodyOf({
      messages: [
        { role: "user", content: "a" },
        {
          role: "user",
          content: [
            { type: "text", text: "b" },
            { type: "text", text: "" },
          ],
        },
        { role: "assistant", content: "c" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "d" },
            { type: "refusal", refusal: "e" },
          ],
        },
        { role: "assistant", content: "" },
        { role: "user", content: "" },
        { role: "user", content: "f" },
      ],
    });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "a" }, { text: "b" }] },
      { role: "model", parts: [{ text: "c" }, { text: "d" }, { text: "e" }] },
      { role: "user", parts: [{ text: "f" }] },
    ]);
  });

  test("a conversation of only system text becomes one user turn (Gemini needs contents)", () => {
    const body = bodyOf({ messages: [{ role: "system", content: "Say hi." }] });
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "Say hi." }] }]);
    expect(body.systemInstruction).toBeUndefined();
  });

  test("refused: no messages, no content, an unknown role, a part type Gemini cannot take", () => {
    expect(refusal({}).param).toBe("messages");
    expect(refusal({ messages: [] }).status).toBe(400);
    expect(refusal({ messages: [{ role: "user", content: "" }] }).message).toContain("at least one message");
    expect(refusal({ messages: [{ role: "critic", content: "x" }] }).param).toBe("messages[0].role");
    expect(refusal({ messages: [{ role: "user", content: [{ type: "video_url", video_url: "x" }] }] }).param).toBe("messages[0].content[0].type");
    expect(refusal({ messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: PNG } }] }] }).param).toBe("messages[0].content[0]");
  });
});

describe("media", () => {
  const user = (part: unknown) => ({ messages: [{ role: "user", content: [{ type: "text", text: "look" }, part] }] });

  test("a data: URL goes inline; an https URL as fileData with its type from the extension", () => {
    expect(bodyOf(user({ type: "image_url", image_url: { url: PNG } })).contents[0]!.parts[1]).toEqual({
      inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" },
    });
    expect(bodyOf(user({ type: "image_url", image_url: { url: "https://example.com/a/cat.JPG?size=2" } })).contents[0]!.parts[1]).toEqual({
      fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/a/cat.JPG?size=2" },
    });
    expect(bodyOf(user({ type: "image_url", image_url: "https://example.com/doc.pdf" })).contents[0]!.parts[1]).toEqual({
      fileData: { mimeType: "application/pdf", fileUri: "https://example.com/doc.pdf" },
    });
    // image/jpg is no registered type, but clients send it.
    expect(bodyOf(user({ type: "image_url", image_url: { url: "data:image/jpg;base64,/9j/" } })).contents[0]!.parts[1]).toEqual({
      inlineData: { mimeType: "image/jpeg", data: "/9j/" },
    });
  });

  test("audio and inline files", () => {
    expect(bodyOf(user({ type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } })).contents[0]!.parts[1]).toEqual({
      inlineData: { mimeType: "audio/wav", data: "UklGRg==" },
    });
    expect(bodyOf(user({ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } })).contents[0]!.parts[1]).toEqual({
      inlineData: { mimeType: "application/pdf", data: "JVBERi0=" },
    });
    expect(bodyOf(user({ type: "file", file: { file_data: "JVBERi0=", filename: "a.pdf" } })).contents[0]!.parts[1]).toEqual({
      inlineData: { mimeType: "application/pdf", data: "JVBERi0=" },
    });
  });

  test("clear 400s: unknown media type, GIF, http:, a non-base64 data URL, a file id", () => {
    const param = "messages[0].content[1].image_url.url";
    const noType = refusal(user({ type: "image_url", image_url: { url: "https://example.com/image?id=3" } }));
    expect({ status: noType.status, param: noType.param }).toEqual({ status: 400, param });
    expect(noType.message).toContain("media type");
    expect(refusal(user({ type: "image_url", image_url: { url: "https://x.dev/a.gif" } })).message).toContain("image/gif");
    expect(refusal(user({ type: "image_url", image_url: { url: "data:image/gif;base64,R0lG" } })).message).toContain("image/gif");
    expect(refusal(user({ type: "image_url", image_url: { url: "http://x.dev/a.png" } })).message).toContain("https");
    expect(refusal(user({ type: "image_url", image_url: { url: "data:image/png,%89PNG" } })).message).toContain("base64");
    expect(refusal(user({ type: "image_url", image_url: { url: "not a url" } })).param).toBe(param);
    expect(refusal(user({ type: "file", file: { file_id: "file-abc" } })).message).toContain("file_id");
  });

  test("an extension named like an Object.prototype member is no known type: the same 400, not a crash or a part without its type", () => {
    expect(refusal(user({ type: "image_url", image_url: { url: "https://example.com/a.constructor" } })).message).toContain("media type");
    expect(refusal(user({ type: "file", file: { file_data: "JVBERi0=", filename: "a.constructor" } })).param).toBe("messages[0].content[1].file");
  });
});

describe("generationConfig", () => {
  const messages = [{ role: "user", content: "hi" }];

  test("sampling, limits, stops, seed and n", () => {
    const body = bodyOf({
      messages,
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      max_tokens: 100,
      stop: ["END", ""],
      seed: 7,
      n: 2,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
    });
    expect(body.generationConfig).toEqual({
      temperature: 0.3,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 100,
      stopSequences: ["END"],
      seed: 7,
      candidateCount: 2,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
    });
  });

  test("max_completion_tokens wins over max_tokens; a single stop string; nulls are left out", () => {
    expect(bodyOf({ messages, max_tokens: 10, max_completion_tokens: 20, stop: "x", temperature: null }).generationConfig).toEqual({
      maxOutputTokens: 20,
      stopSequences: ["x"],
    });
    expect(bodyOf({ messages, temperature: null, stop: null }).generationConfig).toBeUndefined();
  });

  test("JSON mode, with a schema cut to Gemini's subset", () => {
    expect(bodyOf({ messages, response_format: { type: "json_object" } }).generationConfig).toEqual({ responseMimeType: "application/json" });
    const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false, $schema: "x" };
    expect(bodyOf({ messages, response_format: { type: "json_schema", json_schema: { name: "r", strict: true, schema } } }).generationConfig).toEqual({
      responseMimeType: "application/json",
      responseSchema: { type: "OBJECT", properties: { n: { type: "INTEGER" } }, required: ["n"] },
    });
    expect(bodyOf({ messages, response_format: { type: "text" } }).generationConfig).toBeUndefined();
    expect(refusal({ messages, response_format: { type: "xml" } }).param).toBe("response_format.type");
  });

  test("reasoning_effort → a thinking budget, with thought summaries; none turns thinking off", () => {
    expect(bodyOf({ messages, reasoning_effort: "low" }).generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: THINKING_BUDGETS.low, includeThoughts: true },
    });
    expect(bodyOf({ messages, reasoning_effort: "high" }).generationConfig?.thinkingConfig?.thinkingBudget).toBe(24576);
    expect(bodyOf({ messages, reasoning_effort: "none" }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    expect(refusal({ messages, reasoning_effort: "extreme" }).param).toBe("reasoning_effort");
    // Names of Object.prototype's members are no values either (they would send a config Gemini refuses, or none at all).
    for (const effort of ["constructor", "toString", "__proto__"]) expect(refusal({ messages, reasoning_effort: effort }).param).toBe("reasoning_effort");
  });

  test("only fields Gemini knows reach the body", () => {
    const body = bodyOf({
      model: "m",
      messages,
      user: "u",
      metadata: { a: 1 },
      stream_options: { include_usage: true },
      parallel_tool_calls: false,
      logit_bias: { 1: 2 },
      store: true,
      service_tier: "auto",
    });
    expect(Object.keys(body)).toEqual(["contents"]);
  });
});

describe("tools", () => {
  const messages = [{ role: "user", content: "hi" }];

  test("the schemas of all tools share one bound on what they expand to: many small ones are a 400, found in bounded time", () => {
    // Each under 2 KB and 2^15 nodes once its $refs are inlined; 2,000 of them fit in a 4 MB body.
    const $defs = Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`D${i}`, { type: "object", properties: { a: { $ref: `#/$defs/D${i + 1}` }, b: { $ref: `#/$defs/D${i + 1}` } } }]),
    );
    const parameters = { type: "object", properties: { x: { $ref: "#/$defs/D0" } }, $defs: { ...$defs, D15: { type: "string" } } };
    const tools = Array.from({ length: 2000 }, (_, i) => ({ type: "function", function: { name: `f${i}`, parameters } }));
    const started = performance.now();
    expect(() => translate({ messages, tools })).toThrow(expect.objectContaining({ status: 400, code: "schema_too_large" }));
    expect(performance.now() - started).toBeLessThan(1000);
  });
  const weather = {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather now",
      strict: true,
      parameters: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: { city: { $ref: "#/$defs/City" }, unit: { type: ["string", "null"], enum: ["c", "f", null] } },
        required: ["city"],
        additionalProperties: false,
        $defs: { City: { type: "string", description: "City name" } },
      },
    },
  };
  const now = { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } };

  test("functionDeclarations with schemas cut down; a function without arguments has no parameters", () => {
    expect(bodyOf({ messages, tools: [weather, now] }).tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather now",
            parameters: {
              type: "OBJECT",
              properties: { city: { type: "STRING", description: "City name" }, unit: { type: "STRING", enum: ["c", "f"], format: "enum", nullable: true } },
              required: ["city"],
            },
          },
          { name: "now" },
        ],
      },
    ]);
  });

  test("tool_choice → functionCallingConfig", () => {
    const config = (tool_choice: unknown) => bodyOf({ messages, tools: [weather, now], tool_choice }).toolConfig;
    expect(config("auto")).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(config("none")).toEqual({ functionCallingConfig: { mode: "NONE" } });
    expect(config("required")).toEqual({ functionCallingConfig: { mode: "ANY" } });
    expect(config({ type: "function", function: { name: "now" } })).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["now"] } });
    expect(config(undefined)).toBeUndefined();
    expect(refusal({ messages, tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }).param).toBe("tool_choice");
    expect(refusal({ messages, tools: [weather], tool_choice: "sometimes" }).param).toBe("tool_choice");
    for (const choice of ["constructor", "toString", "__proto__"])
      expect(refusal({ messages, tools: [weather], tool_choice: choice }).param).toBe("tool_choice");
  });

  test("no tools, no toolConfig (Gemini refuses one alone)", () => {
    expect(bodyOf({ messages, tool_choice: "required" }).toolConfig).toBeUndefined();
    expect(bodyOf({ messages, tools: [] }).tools).toBeUndefined();
  });

  test("the legacy functions and function_call", () => {
    const body = bodyOf({ messages, functions: [weather.function], function_call: { name: "get_weather" } });
    expect(body.tools?.[0]?.functionDeclarations.map((fn) => fn.name)).toEqual(["get_weather"]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } });
  });

  test("refused: tools that are not functions, a function without a name", () => {
    expect(refusal({ messages, tools: [{ type: "web_search" }] }).param).toBe("tools[0].type");
    expect(refusal({ messages, tools: [{ type: "function", function: { description: "x" } }] }).param).toBe("tools[0].function.name");
  });
});

describe("tool calls and their results", () => {
  const signed = toolCallId("c2lnbmF0dXJl", "AAA");
  const plain = toolCallId(undefined, "BBB");

  test("calls are replayed as functionCall parts with their signature; results go back in call order, named", () => {
    const body = bodyOf({
      messages: [
        { role: "user", content: "weather in Paris and Rome?" },
        { role: "assistant", content: null, tool_calls: [call(signed, "get_weather", '{"city":"Paris"}'), call(plain, "get_weather", '{"city":"Rome"}')] },
        { role: "tool", tool_call_id: plain, content: "18C" },
        { role: "tool", tool_call_id: signed, content: '{"temp":21}' },
        { role: "assistant", content: "Paris 21, Rome 18." },
      ],
    });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "weather in Paris and Rome?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "c2lnbmF0dXJl" },
          { functionCall: { name: "get_weather", args: { city: "Rome" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temp: 21 } } },
          { functionResponse: { name: "get_weather", response: { output: "18C" } } },
        ],
      },
      { role: "model", parts: [{ text: "Paris 21, Rome 18." }] },
    ]);
  });

  test("a user message after the results joins their turn; assistant text before calls joins the calls' turn", () => {
    const body = bodyOf({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: "Let me check." },
        { role: "assistant", content: "", tool_calls: [call(plain, "now")] },
        { role: "tool", tool_call_id: plain, content: [{ type: "text", text: "noon" }] },
        { role: "user", content: "and?" },
      ],
    });
    expect(body.contents.map((turn) => [turn.role, turn.parts.length])).toEqual([
      ["user", 1],
      ["model", 2],
      ["user", 2],
    ]);
    expect(body.contents[2]!.parts).toEqual([{ functionResponse: { name: "now", response: { output: "noon" } } }, { text: "and?" }]);
  });

  test("arguments that are not a JSON object become {}", () => {
    for (const args of ["", "not json", "[1,2]", "3", null]) {
      const body = bodyOf({
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [call(plain, "now", args)] },
          { role: "tool", tool_call_id: plain, content: "" },
        ],
      });
      expect(body.contents[1]!.parts[0]!.functionCall!.args).toEqual({});
    }
  });

  test("a system message between the calls and their results does not split them", () => {
    const body = bodyOf({
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", tool_calls: [call(plain, "now")] },
        { role: "system", content: "Be terse." },
        { role: "tool", tool_call_id: plain, content: "noon" },
      ],
    });
    expect(body.contents.map((turn) => turn.role)).toEqual(["user", "model", "user"]);
  });

  test("refused as OpenAI refuses them: a missing result, an unknown id, a result twice, a result of an earlier turn", () => {
    const first = toolCallId(undefined, "CCC");
    const start = [
      { role: "user", content: "x" },
      { role: "assistant", tool_calls: [call(first, "now"), call(plain, "now")] },
    ];
    expect(refusal({ messages: [...start, { role: "tool", tool_call_id: first, content: "a" }] }).message).toContain(plain);
    expect(refusal({ messages: [...start, { role: "tool", tool_call_id: first, content: "a" }, { role: "user", content: "y" }] }).message).toContain(plain);
    expect(refusal({ messages: start }).message).toContain(first);
    expect(refusal({ messages: [...start, { role: "user", content: "y" }] }).status).toBe(400);
    expect(refusal({ messages: [...start, { role: "tool", tool_call_id: "call_zzz", content: "a" }] }).param).toBe("messages[2].tool_call_id");
    expect(
      refusal({ messages: [...start, { role: "tool", tool_call_id: first, content: "a" }, { role: "tool", tool_call_id: first, content: "b" }] }).message,
    ).toContain("twice");
    const later = [
      ...start,
      { role: "tool", tool_call_id: first, content: "a" },
      { role: "tool", tool_call_id: plain, content: "b" },
      { role: "assistant", content: "ok" },
      { role: "tool", tool_call_id: first, content: "again" },
    ];
    expect(refusal({ messages: later }).message).toContain("earlier turn");
    expect(
      refusal({
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [{ id: "a", function: {} }] },
        ],
      }).param,
    ).toBe("messages[1].tool_calls[0]");
  });

  test("the legacy function role answers the open call of that name", () => {
    const body = bodyOf({
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: null, function_call: { name: "now", arguments: "{}" } },
        { role: "function", name: "now", content: "noon" },
      ],
    });
    expect(body.contents[2]).toEqual({ role: "user", parts: [{ functionResponse: { name: "now", response: { output: "noon" } } }] });
    expect(
      refusal({
        messages: [
          { role: "user", content: "x" },
          { role: "function", name: "now", content: "noon" },
        ],
      }).param,
    ).toBe("messages[1].name");
  });

  test("Gemini 3: a call without a signature gets the documented skip value on its step's first call only", () => {
    const foreign = [
      { role: "user", content: "x" },
      { role: "assistant", tool_calls: [call("toolu_01", "now"), call("toolu_02", "now")] },
      { role: "tool", tool_call_id: "toolu_01", content: "a" },
      { role: "tool", tool_call_id: "toolu_02", content: "b" },
    ];
    const parts = bodyOf({ messages: foreign }, { model: "gemini-3-pro-preview" }).contents[1]!.parts;
    expect(parts.map((part) => part.thoughtSignature)).toEqual([SKIP_SIGNATURE, undefined]);
    expect(bodyOf({ messages: foreign }, { model: "gemini-flash-latest" }).contents[1]!.parts[0]!.thoughtSignature).toBe(SKIP_SIGNATURE);
    // Older models never check: nothing is added.
    expect(bodyOf({ messages: foreign }, { model: "gemini-2.5-flash" }).contents[1]!.parts[0]!.thoughtSignature).toBeUndefined();
    // A real signature is never replaced.
    const own = [
      { role: "user", content: "x" },
      { role: "assistant", tool_calls: [call(signed, "now")] },
      { role: "tool", tool_call_id: signed, content: "a" },
    ];
    expect(bodyOf({ messages: own }, { model: "gemini-3-pro-preview" }).contents[1]!.parts[0]!.thoughtSignature).toBe("c2lnbmF0dXJl");
  });
});
