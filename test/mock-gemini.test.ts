// The Gemini mock's own contract: it refuses what the real API refuses (so translation tests
// against it mean something) and answers in the API's recorded shapes. The last part runs the
// translation modules against it: a multi-turn tool conversation Gemini would accept.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { toBatchEmbedRequest, toEmbeddingList } from "../src/providers/gemini/embeddings";
import { toGenerateContentRequest } from "../src/providers/gemini/request";
import { toChatCompletion } from "../src/providers/gemini/response";
import { GeminiStreamTranslator } from "../src/providers/gemini/stream";
import { signatureOf } from "../src/providers/gemini/tool-call-id";
import { geminiReply, mergeChunks, mockEmbedding, mockUsage, signatureFor, startMockGemini, type MockGemini } from "./support/mock-gemini";

const KEY = "gemini-test-key";
let mock: MockGemini;
beforeAll(() => {
  mock = startMockGemini(KEY);
});
beforeEach(() => mock.reset());
afterAll(() => mock.stop());

const HEADERS: Record<string, string> = { "content-type": "application/json", "x-goog-api-key": KEY };
const GENERATE = "/v1beta/models/gemini-3-flash:generateContent";
const STREAM = "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse";
const EMBED = "/v1beta/models/gemini-embedding-001:batchEmbedContents";
const BASE = { contents: [{ role: "user", parts: [{ text: "Hi" }] }] };
const withTool = (parameters: unknown) => ({ ...BASE, tools: [{ functionDeclarations: [{ name: "f", parameters }] }] });

async function post(body: unknown, { path = GENERATE, headers = HEADERS } = {}) {
  const response = await fetch(`${mock.url}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, contentType: response.headers.get("content-type"), text, json };
}

const without = (record: Record<string, string>, name: string) => Object.fromEntries(Object.entries(record).filter(([key]) => key !== name));

describe("mock gemini refuses what the API refuses", () => {
  const cases: { name: string; body?: unknown; path?: string; headers?: Record<string, string>; status: number; statusText: string; message: RegExp }[] = [
    {
      name: "an unknown top-level field",
      body: { ...BASE, messages: [] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "messages": Cannot find field/,
    },
    {
      name: "an unknown generationConfig field",
      body: { ...BASE, generationConfig: { max_tokens: 5 } },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "max_tokens" at 'generation_config'/,
    },
    {
      name: "an unknown part field",
      body: { contents: [{ role: "user", parts: [{ text: "x", type: "text" }] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "type" at 'contents\[0\]\.parts\[0\]'/,
    },
    {
      name: "additionalProperties in a function schema",
      body: withTool({ type: "object", properties: { a: { type: "string" } }, additionalProperties: false }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "additionalProperties" at 'tools\[0\]\.function_declarations\[0\]\.parameters'/,
    },
    {
      name: "$schema in a function schema",
      body: withTool({ $schema: "x", type: "object", properties: { a: { type: "string" } } }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "\$schema"/,
    },
    {
      name: "a $ref deep in a function schema",
      body: withTool({ type: "object", properties: { a: { type: "array", items: { $ref: "#/$defs/A" } } } }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "\$ref" at 'tools\[0\]\.function_declarations\[0\]\.parameters\.properties\[0\]\.value\.items'/,
    },
    {
      name: "a number in a schema enum",
      body: withTool({ type: "object", properties: { a: { type: "integer", enum: [1, 2] } } }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /TYPE_STRING/,
    },
    {
      name: "an OBJECT with empty properties",
      body: withTool({ type: "object", properties: {} }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /should be non-empty for OBJECT type/,
    },
    {
      name: "a required name that is not a property",
      body: withTool({ type: "object", properties: { a: { type: "string" } }, required: ["b"] }),
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /property is not defined/,
    },
    {
      name: "a value of the wrong type",
      body: { ...BASE, generationConfig: { temperature: "hot" } },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /generation_config\.temperature' \(TYPE_FLOAT\)/,
    },
    {
      name: "toolConfig without tools",
      body: { ...BASE, toolConfig: { functionCallingConfig: { mode: "ANY" } } },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /without function_declarations/,
    },
    {
      name: "a system role in contents",
      body: { contents: [{ role: "system", parts: [{ text: "Be brief" }] }, ...BASE.contents] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /valid role: user, model/,
    },
    {
      name: "no contents",
      body: { systemInstruction: { parts: [{ text: "x" }] } },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /contents is not specified/,
    },
    {
      name: "a turn without parts",
      body: { contents: [{ role: "user", parts: [] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /parts must not be empty/,
    },
    {
      name: "an empty text part",
      body: { contents: [{ role: "user", parts: [{ text: "" }] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /required oneof field 'data'/,
    },
    {
      name: "a part with two kinds of data",
      body: { contents: [{ role: "user", parts: [{ text: "a", inlineData: { mimeType: "image/png", data: "AA==" } }] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /oneof field 'data' is already set/,
    },
    {
      name: "inline data that is not base64",
      body: { contents: [{ role: "user", parts: [{ inlineData: { mimeType: "image/png", data: "not base64!" } }] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Base64 decoding failed/,
    },
    {
      name: "fewer functionResponses than the calls before them",
      body: {
        contents: [
          ...BASE.contents,
          { role: "model", parts: [{ functionCall: { name: "f", args: {} } }, { functionCall: { name: "g", args: {} } }] },
          { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] },
        ],
      },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /number of function response parts is equal to the number of function call parts/,
    },
    {
      name: "a functionResponse with no call before it",
      body: {
        contents: [...BASE.contents, { role: "model", parts: [{ text: "hi" }] }, { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] }],
      },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /number of function response parts/,
    },
    {
      name: "a function call turn first",
      body: { contents: [{ role: "model", parts: [{ functionCall: { name: "f", args: {} } }] }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /function call turn comes immediately after a user turn/,
    },
    { name: "a key in the URL", path: `${GENERATE}?key=${KEY}`, status: 400, statusText: "INVALID_ARGUMENT", message: /x-goog-api-key/ },
    { name: "no x-goog-api-key", headers: without(HEADERS, "x-goog-api-key"), status: 403, statusText: "PERMISSION_DENIED", message: /unregistered callers/ },
    { name: "a wrong key", headers: { ...HEADERS, "x-goog-api-key": "nope" }, status: 400, statusText: "INVALID_ARGUMENT", message: /API key not valid/ },
    {
      name: "an Authorization header",
      headers: { ...HEADERS, authorization: "Bearer sk-client" },
      status: 401,
      statusText: "UNAUTHENTICATED",
      message: /OAuth 2 access token/,
    },
    { name: "an unknown method", path: "/v1beta/models/gemini-3-flash:chat", status: 404, statusText: "NOT_FOUND", message: /not found/ },
    { name: "the OpenAI path", path: "/v1/chat/completions", status: 404, statusText: "NOT_FOUND", message: /not found/ },
    { name: "a body that is not JSON", body: "{nope", status: 400, statusText: "INVALID_ARGUMENT", message: /Invalid JSON payload/ },
    {
      name: "embeddings: an unknown field",
      path: EMBED,
      body: { requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "a" }] }, dimensions: 3 }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /Unknown name "dimensions"/,
    },
    {
      name: "embeddings: another model in a request",
      path: EMBED,
      body: { requests: [{ model: "models/other", content: { parts: [{ text: "a" }] } }] },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /must equal the model of the batch/,
    },
    {
      name: "embeddings: more than 100",
      path: EMBED,
      body: { requests: Array.from({ length: 101 }, () => ({ model: "models/gemini-embedding-001", content: { parts: [{ text: "a" }] } })) },
      status: 400,
      statusText: "INVALID_ARGUMENT",
      message: /at most 100/,
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const { status, json } = await post(c.body ?? BASE, { path: c.path ?? GENERATE, headers: c.headers ?? HEADERS });
      expect({ status, code: json?.error?.code, statusText: json?.error?.status }).toEqual({ status: c.status, code: c.status, statusText: c.statusText });
      expect(json.error.message).toMatch(c.message);
      expect(mock.last.refusal?.status).toBe(c.status);
    });
  }

  test("snake_case field names parse as camelCase ones do (protobuf JSON takes both)", async () => {
    const { status } = await post({ contents: BASE.contents, system_instruction: { parts: [{ text: "x" }] }, generation_config: { max_output_tokens: 5 } });
    expect(status).toBe(200);
    expect(mock.last.refusal).toBeNull();
  });
});

describe("thought signatures", () => {
  const turns = (signature: string | undefined, extraCall = false) => ({
    contents: [
      ...BASE.contents,
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { city: "Oslo" } }, ...(signature !== undefined ? { thoughtSignature: signature } : {}) },
          ...(extraCall ? [{ functionCall: { name: "get_time", args: {} } }] : []),
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { output: "sunny" } } },
          ...(extraCall ? [{ functionResponse: { name: "get_time", response: { output: "noon" } } }] : []),
        ],
      },
    ],
  });

  test("a signed call must come back with its signature; the unsigned parallel call needs none", async () => {
    mock.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }, { name: "get_time" }]));
    const first = await post(BASE);
    const parts = first.json.candidates[0].content.parts;
    expect(parts.map((part: any) => [part.functionCall.name, part.functionCall.id, typeof part.thoughtSignature])).toEqual([
      ["get_weather", undefined, "string"],
      ["get_time", undefined, "undefined"],
    ]);
    const signature = signatureFor("get_weather", { city: "Oslo" });
    expect(parts[0].thoughtSignature).toBe(signature);
    expect(signature).toMatch(/^\+\+\+\+\/\/\/\/.*=$/);

    mock.willReply(geminiReply.text("Sunny in Oslo."));
    const missing = await post(turns(undefined, true));
    expect([missing.status, missing.json.error.message]).toEqual([400, expect.stringContaining("Function call is missing a thought_signature")]);
    expect((await post(turns("QUJDRA==", true))).json.error.message).toContain("Corrupted thought signature");
    expect((await post(turns(signature, true))).status).toBe(200);
    // base64url and unpadded spellings of the same bytes are the same signature.
    expect((await post(turns(signature.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), true))).status).toBe(200);
    expect((await post(turns("skip_thought_signature_validator", true))).status).toBe(200);
  });

  test("calls the mock never signed are not checked; reset forgets what was sent", async () => {
    expect((await post(turns(undefined))).status).toBe(200);
    mock.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }]));
    await post(BASE);
    expect((await post(turns(undefined))).status).toBe(400);
    mock.reset();
    expect((await post(turns(undefined))).status).toBe(200);
  });
});

describe("mock gemini answers in the API's shapes", () => {
  test("records method, path, headers, model and the parsed body", async () => {
    await post(BASE);
    expect(mock.last).toMatchObject({ method: "POST", path: GENERATE, model: "gemini-3-flash", rpc: "generateContent", body: BASE, refusal: null });
    expect(mock.last.headers.get("x-goog-api-key")).toBe(KEY);
  });

  test("whole: the scripted chunks merged; streamed: one CRLF-framed SSE event per chunk; without alt=sse: a JSON array", async () => {
    const reply = geminiReply.text("Hello there", { chunks: 3, thoughts: "Greeting.", usage: mockUsage(10, 3, 7, 4) });
    mock.willReply(reply);
    const whole = await post(BASE);
    expect(whole.json).toEqual({
      candidates: [{ content: { parts: [{ text: "Greeting.", thought: true }, { text: "Hello there" }], role: "model" }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 3, thoughtsTokenCount: 7, cachedContentTokenCount: 4, totalTokenCount: 20 },
      modelVersion: "gemini-mock-001",
      responseId: "mock-response-1",
    });
    const streamed = await post(BASE, { path: STREAM });
    expect(streamed.contentType).toBe("text/event-stream");
    const events = streamed.text.split("\r\n\r\n");
    expect(events.at(-1)).toBe("");
    expect(events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")).candidates[0].content.parts)).toEqual([
      [{ text: "Greeting.", thought: true }],
      [{ text: "Hell" }],
      [{ text: "o th" }],
      [{ text: "ere" }],
    ]);
    const array = await post(BASE, { path: "/v1beta/models/gemini-3-flash:streamGenerateContent" });
    expect(array.json).toHaveLength(4);
  });

  test("STOP after the call, in its own event with an empty text part", async () => {
    mock.willReply(geminiReply.calls([{ name: "f", args: { a: 1 } }], { lateStop: true }));
    const events = (await post(BASE, { path: STREAM })).text
      .split("\r\n\r\n")
      .filter(Boolean)
      .map((e) => JSON.parse(e.slice(6)));
    expect(events.map((e) => [Object.keys(e.candidates[0].content.parts[0])[0], e.candidates[0].finishReason])).toEqual([
      ["functionCall", undefined],
      ["text", "STOP"],
    ]);
    expect(mergeChunks(events).candidates![0]!.content!.parts).toHaveLength(1);
  });

  test("a blocked prompt: a 200 with promptFeedback and no candidates", async () => {
    mock.willReply(geminiReply.blocked("PROHIBITED_CONTENT"));
    const { status, json } = await post(BASE);
    expect(status).toBe(200);
    expect(json.candidates).toBeUndefined();
    expect(json.promptFeedback).toEqual({ blockReason: "PROHIBITED_CONTENT" });
  });

  test("a scripted error in Gemini's shape, with its headers", async () => {
    mock.willReply(geminiReply.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }]));
    const { status, json } = await post(BASE);
    expect(status).toBe(429);
    expect(json).toEqual({
      error: {
        code: 429,
        message: "Quota exceeded",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }],
      },
    });
  });

  test("batchEmbedContents: one vector per request, in order, sized by outputDimensionality", async () => {
    const requests = ["alpha", "be"].map((text) => ({ model: "models/gemini-embedding-001", content: { parts: [{ text }] }, outputDimensionality: 3 }));
    const { status, json } = await post({ requests }, { path: EMBED });
    expect(status).toBe(200);
    expect(json).toEqual({ embeddings: [{ values: mockEmbedding("alpha", 3) }, { values: mockEmbedding("be", 3) }] });
    expect(json.embeddings.map((e: any) => e.values[0])).toEqual([5, 2]);
  });

  test("a script can answer by request", async () => {
    mock.willReply((request) => geminiReply.text(`you said ${request.body.contents[0].parts[0].text}`));
    expect((await post(BASE)).json.candidates[0].content.parts[0].text).toBe("you said Hi");
  });
});

describe("the translation modules against the mock", () => {
  const send = (chat: Record<string, unknown>) => {
    const { path, body } = toGenerateContentRequest(chat, { model: "gemini-3-flash" });
    return fetch(`${mock.url}/${path}`, { method: "POST", headers: HEADERS, body: JSON.stringify(body) });
  };
  const tools = [
    {
      type: "function",
      function: {
        name: "get_weather",
        parameters: {
          $schema: "http://json-schema.org/draft-07/schema#",
          type: "object",
          properties: { city: { $ref: "#/definitions/City" } },
          required: ["city"],
          additionalProperties: false,
          definitions: { City: { type: "string" } },
        },
      },
    },
    { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {}, additionalProperties: false } } },
  ];

  test("a three-turn tool conversation, streamed: calls with late STOP, signatures replayed through the ids, results accepted", async () => {
    const messages: any[] = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather and time in Oslo?" },
    ];

    mock.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }, { name: "get_time" }], { lateStop: true }));
    const response = await send({ messages, tools, tool_choice: "auto", stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    const translator = new GeminiStreamTranslator({ model: "gemini-3-flash", includeUsage: true });
    let out = "";
    for await (const chunk of response.body!) out += new TextDecoder().decode(translator.push(chunk));
    out += new TextDecoder().decode(translator.end());
    const chunks = out
      .split("\n\n")
      .filter(Boolean)
      .map((e) => e.slice(6));
    expect(chunks.at(-1)).toBe("[DONE]");
    const parsed = chunks.slice(0, -1).map((c) => JSON.parse(c));
    const calls = parsed.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls.map((c: any) => [c.index, c.function.name, c.function.arguments])).toEqual([
      [0, "get_weather", '{"city":"Oslo"}'],
      [1, "get_time", "{}"],
    ]);
    expect(signatureOf(calls[0].id)).toBe(signatureFor("get_weather", { city: "Oslo" }));
    expect(parsed.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["tool_calls"]);
    expect(parsed.at(-1).usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 16 });
    expect(translator.usage()).toEqual({ promptTokens: 20, completionTokens: 16, totalTokens: 36 });

    // Turn 2: the client replays the calls as OpenAI clients do (ids only), with results in another order.
    messages.push({ role: "assistant", content: null, tool_calls: calls.map(({ index, ...call }: any) => call) });
    messages.push({ role: "tool", tool_call_id: calls[1].id, content: "12:00" }, { role: "tool", tool_call_id: calls[0].id, content: '{"sky":"sunny"}' });
    mock.willReply(geminiReply.text("Sunny, noon.", { usage: mockUsage(40, 4, 6, 32) }));
    const second = await send({ messages, tools });
    expect(mock.last.refusal).toBeNull();
    expect(second.status).toBe(200);
    const completion = toChatCompletion(await second.json(), { model: "gemini-3-flash" });
    expect(completion.choices[0]).toMatchObject({ message: { role: "assistant", content: "Sunny, noon." }, finish_reason: "stop" });
    expect(completion.usage).toEqual({
      prompt_tokens: 40,
      completion_tokens: 10,
      total_tokens: 50,
      prompt_tokens_details: { cached_tokens: 32 },
      completion_tokens_details: { reasoning_tokens: 6 },
    });
    expect(mock.last.body.contents.map((c: any) => [c.role, c.parts.length])).toEqual([
      ["user", 1],
      ["model", 2],
      ["user", 2],
    ]);

    // Turn 3: a follow-up question, the whole history replayed again.
    messages.push({ role: "assistant", content: "Sunny, noon." }, { role: "user", content: "Thanks!" });
    mock.willReply(geminiReply.text("You're welcome."));
    expect((await send({ messages, tools })).status).toBe(200);
    expect(mock.last.refusal).toBeNull();
  });

  test("a client that dropped the signature (rewrote the ids) is caught by the mock as Gemini would", async () => {
    mock.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }]));
    await send({ messages: [{ role: "user", content: "x" }], tools });
    // An id without a signature: on Gemini 3 the skip value goes in its place, which Gemini accepts.
    const messages = [
      { role: "user", content: "x" },
      { role: "assistant", tool_calls: [{ id: "call_rewritten", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "call_rewritten", content: "sunny" },
    ];
    expect((await send({ messages, tools })).status).toBe(200);
    // Gemini 2.5 gets no skip value: the missing signature is refused.
    const { path, body } = toGenerateContentRequest({ messages, tools }, { model: "gemini-2.5-flash" });
    const refused = await fetch(`${mock.url}/${path}`, { method: "POST", headers: HEADERS, body: JSON.stringify(body) });
    expect(refused.status).toBe(400);
  });

  test("a blocked prompt becomes content_filter; JSON mode and thinking pass the mock's parser", async () => {
    mock.willReply(geminiReply.blocked());
    const blocked = await send({
      messages: [{ role: "user", content: "x" }],
      response_format: {
        type: "json_schema",
        json_schema: { name: "r", schema: { type: "object", properties: { a: { type: "string", format: "uri" } }, additionalProperties: false } },
      },
      reasoning_effort: "low",
      max_completion_tokens: 50,
      stop: "END",
      seed: 1,
    });
    expect(mock.last.refusal).toBeNull();
    expect(toChatCompletion(await blocked.json(), { model: "m" }).choices[0]!.finish_reason).toBe("content_filter");
  });

  test("embeddings: the translated batch is accepted and comes back in input order", async () => {
    const request = toBatchEmbedRequest({ input: ["one", "three", "two"], dimensions: 2 }, { model: "gemini-embedding-001" });
    const response = await fetch(`${mock.url}/${request.path}`, { method: "POST", headers: HEADERS, body: JSON.stringify(request.body) });
    expect(response.status).toBe(200);
    const list = toEmbeddingList(await response.json(), request, { model: "gemini-embedding-001" });
    expect(list.data.map((item) => (item.embedding as number[])[0])).toEqual([3, 5, 3]);
    expect(list.data.map((item) => item.embedding)).toEqual([mockEmbedding("one", 2), mockEmbedding("three", 2), mockEmbedding("two", 2)]);
  });
});
