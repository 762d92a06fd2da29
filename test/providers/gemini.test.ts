// provider "gemini", black box: the official openai SDK talks to the proxy, which talks to the
// strict mock Gemini backend (it refuses what the real API refuses) over real HTTP. Chat whole and
// streamed, a three-turn tool conversation whose thought signatures ride in the tool-call ids,
// images, embeddings through batchEmbedContents, errors, usage rows and a dollar budget fed by
// translated answers, the 400 for operations with no translation, and no key in the URL or any log
// line.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { signatureOf } from "../../src/providers/gemini/tool-call-id";
import { chatBody, expectOpenAIError, postJson, readBody } from "../support/http";
import { geminiReply, mockEmbedding, mockUsage, signatureFor, startMockGemini, type MockGemini } from "../support/mock-gemini";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { folded, requestEnded, usageRow } from "../support/translated";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";

const GEMINI_KEY = registerSecret("AIzaSy-gemini-provider-test-0123456789-SECRET", "gemini provider test: backend key");
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

let gemini: MockGemini;
let proxy: ProxyHandle;
let client: OpenAI;

beforeAll(async () => {
  gemini = startMockGemini(GEMINI_KEY);
  proxy = await startProxy(
    {
      endpoints: {
        flash: { displayName: "Gemini 3 Flash", provider: "gemini", url: gemini.url, apiKey: GEMINI_KEY, actualModelName: "gemini-3-flash-preview" },
        embed: { provider: "gemini", url: gemini.url, apiKey: GEMINI_KEY, actualModelName: "gemini-embedding-001", aliases: ["text-embedding-*"] },
        // A cent a token, under a daily budget of five cents.
        "flash-budget": {
          provider: "gemini",
          url: gemini.url,
          apiKey: GEMINI_KEY,
          actualModelName: "gemini-3-flash-preview",
          price: { inputPerMTok: 10_000, outputPerMTok: 10_000 },
        },
      },
      limits: { perModel: { "flash-budget": { usdPerDay: 0.05 } } },
    },
    { label: "gemini provider proxy log" },
  );
  client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => gemini.reset());
afterAll(async () => {
  await proxy.stop();
  await gemini.stop();
  removeTempDirs();
});

describe("chat completions through the openai SDK", () => {
  test("non-streamed: generateContent with the key in x-goog-api-key, never in the URL nor as Authorization", async () => {
    gemini.willReply(geminiReply.text("Hello from Gemini", { thoughts: "Greeting.", usage: mockUsage(7, 3, 2, 4) }));
    const completion = await client.chat.completions.create({
      model: "flash",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      max_tokens: 50,
    });
    expect(completion.model).toBe("flash");
    expect(completion.choices[0]!.message).toMatchObject({ role: "assistant", content: "Hello from Gemini", reasoning_content: "Greeting." });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } });

    const seen = gemini.last;
    expect(seen.refusal).toBeNull();
    expect(seen.path).toBe("/v1beta/models/gemini-3-flash-preview:generateContent");
    expect(seen.body).toEqual({
      contents: [{ role: "user", parts: [{ text: "Hi" }] }],
      systemInstruction: { parts: [{ text: "Be brief." }] },
      generationConfig: { maxOutputTokens: 50 },
    });
    expect(seen.headers.get("x-goog-api-key")).toBe(GEMINI_KEY);
    expect(seen.headers.get("authorization")).toBeNull();
    expect(seen.path).not.toContain(GEMINI_KEY);
    expect([...seen.headers].join()).not.toContain(CLIENT_KEY);
  });

  test("streamed: streamGenerateContent?alt=sse as OpenAI chunks, the usage chunk when asked", async () => {
    gemini.willReply(geminiReply.text("Streaming from Gemini in pieces.", { chunks: 4, usage: mockUsage(6, 9) }));
    const result = await folded(
      await client.chat.completions.create({
        model: "flash",
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(result).toMatchObject({
      content: "Streaming from Gemini in pieces.",
      finish: "stop",
      usage: { prompt_tokens: 6, completion_tokens: 9, total_tokens: 15 },
    });
    expect(gemini.last.path).toBe("/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse");
    expect(gemini.last.refusal).toBeNull();
  });

  test("images: a data: URL becomes inlineData", async () => {
    await client.chat.completions.create({
      model: "flash",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
      ],
    });
    expect(gemini.last.refusal).toBeNull();
    expect(gemini.last.body.contents[0].parts).toEqual([{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: PNG } }]);
  });

  test("a blocked prompt is an answer with finish_reason content_filter", async () => {
    gemini.willReply(geminiReply.blocked());
    const completion = await client.chat.completions.create({ model: "flash", messages: [{ role: "user", content: "something" }] });
    expect(completion.choices[0]!.finish_reason).toBe("content_filter");
  });
});

describe("a tool conversation over three turns", () => {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: "function",
      function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, additionalProperties: false } },
    },
    { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
  ];

  test("streamed with a late STOP, then whole, then streamed: signatures come back through the ids, the mock accepts every turn", async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather and time in Oslo?" }];
    gemini.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }, { name: "get_time" }], { lateStop: true }));
    const first = await folded(await client.chat.completions.create({ model: "flash", messages, tools, stream: true }));
    expect(first.finish).toBe("tool_calls");
    expect(first.calls.map((call) => [call.function.name, call.function.arguments])).toEqual([
      ["get_weather", '{"city":"Oslo"}'],
      ["get_time", "{}"],
    ]);
    expect(signatureOf(first.calls[0]!.id)).toBe(signatureFor("get_weather", { city: "Oslo" }));

    messages.push({ role: "assistant", content: null, tool_calls: first.calls });
    messages.push({ role: "tool", tool_call_id: first.calls[1]!.id, content: "12:00" });
    messages.push({ role: "tool", tool_call_id: first.calls[0]!.id, content: '{"sky":"sunny"}' });
    gemini.willReply(geminiReply.calls([{ name: "get_weather", args: { city: "Rome" } }]));
    const second = await client.chat.completions.create({ model: "flash", messages, tools });
    expect(gemini.last.refusal).toBeNull();
    expect(second.choices[0]!.finish_reason).toBe("tool_calls");
    const secondCall = second.choices[0]!.message.tool_calls![0] as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(secondCall.function).toEqual({ name: "get_weather", arguments: '{"city":"Rome"}' });

    messages.push({ role: "assistant", content: null, tool_calls: [secondCall] });
    messages.push({ role: "tool", tool_call_id: secondCall.id, content: '{"sky":"rainy"}' });
    gemini.willReply(geminiReply.text("Oslo sunny, Rome rainy, noon.", { chunks: 3, usage: mockUsage(60, 8) }));
    const third = await folded(
      await client.chat.completions.create({ model: "flash", messages, tools, stream: true, stream_options: { include_usage: true } }),
    );
    expect(third).toMatchObject({ content: "Oslo sunny, Rome rainy, noon.", finish: "stop", usage: { prompt_tokens: 60, completion_tokens: 8 } });
    expect(gemini.requests.map((request) => request.refusal)).toEqual([null, null, null]);
    expect(gemini.last.body.contents.map((content: { role: string; parts: unknown[] }) => [content.role, content.parts.length])).toEqual([
      ["user", 1],
      ["model", 2],
      ["user", 2],
      ["model", 1],
      ["user", 1],
    ]);
  });
});

describe("embeddings", () => {
  test("/v1/embeddings goes to batchEmbedContents; the vectors come back in input order, with an estimated usage row", async () => {
    const inputs = ["first text", "the second, longer text", "3"];
    const response = await client.embeddings.create({ model: "embed", input: inputs, encoding_format: "float" });
    expect(response.data.map((item) => item.index)).toEqual([0, 1, 2]);
    expect(response.data.map((item) => item.embedding)).toEqual(inputs.map((text) => mockEmbedding(text)));
    expect(gemini.last.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(gemini.last.refusal).toBeNull();
    expect(gemini.last.headers.get("x-goog-api-key")).toBe(GEMINI_KEY);

    // The openai SDK asks for base64 by default; an alias resolves here too.
    const raw = await postJson(proxy.url("/v1/embeddings"), { model: "text-embedding-3-small", input: "hello there", dimensions: 3 });
    expect(raw.status).toBe(200);
    const body = await raw.json();
    expect(body.data[0].embedding).toEqual(mockEmbedding("hello there", 3));
    expect(raw.headers.get("x-cm-proxy-model")).toBe("embed");
    const row = await usageRow(proxy, await requestEnded(proxy, raw));
    // The row names the id the client asked for and the model that served it.
    expect(row).toMatchObject({ model: "text-embedding-3-small", served_model: "embed", status: 200, prompt_tokens: 3, total_tokens: 3 });
  });
});

describe("errors", () => {
  test("a Gemini error reaches the client in OpenAI's shape with the same status; a retryDelay becomes retry-after", async () => {
    gemini.willReply(
      geminiReply.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31s" }]),
    );
    const limited = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash"));
    expect(limited.headers.get("retry-after")).toBe("31");
    expect(limited.headers.get("x-request-id")).toBeTruthy();
    await expectOpenAIError(limited, 429, { type: "rate_limit_error", code: "rate_limit_exceeded", messageIncludes: ["Quota exceeded"] });

    gemini.willReply(geminiReply.error(400, "INVALID_ARGUMENT", "Invalid value at 'contents'"));
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("flash", { stream: true })), 400, {
      type: "invalid_request_error",
      code: "invalid_argument",
    });
  });

  test("a 429 whose retryDelay is in its body rests that target as long (the router reads it, not only the client)", async () => {
    const second = startMockGemini(GEMINI_KEY);
    const pair = await startProxy(
      {
        endpoints: {
          pair: {
            provider: "gemini",
            apiKey: GEMINI_KEY,
            actualModelName: "gemini-3-flash-preview",
            targets: [
              { name: "a", url: gemini.url },
              { name: "b", url: second.url },
            ],
            retry: { attempts: 2, backoffMs: 1 },
          },
        },
      },
      { label: "gemini pair proxy log" },
    );
    try {
      gemini.willReply(
        geminiReply.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "120s" }]),
      );
      second.willReply(geminiReply.text("From b"));
      const pairClient = new OpenAI({ baseURL: pair.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
      for (let i = 0; i < 3; i++) {
        const completion = await pairClient.chat.completions.create({ model: "pair", messages: [{ role: "user", content: "Hi" }] });
        expect(completion.choices[0]!.message.content).toBe("From b");
      }
      // Round-robin would have sent a second request to a; it rests for the 120 s it asked.
      expect(gemini.requests.length).toBe(1);
      expect(second.requests.length).toBe(3);
    } finally {
      await pair.stop();
      await second.stop();
    }
  });

  test("an error event after the 200 ends the client's stream with an OpenAI error event", async () => {
    gemini.willReply(
      geminiReply.raw([
        `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "Part" }] }, index: 0 }] })}\r\n\r\n`,
        `data: ${JSON.stringify({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } })}\r\n\r\n`,
      ]),
    );
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash", { stream: true }));
    const { text } = await readBody(response);
    expect(text).toContain('"content":"Part"');
    expect(JSON.parse(text.trimEnd().split("\n\n").at(-1)!.slice(6)).error).toMatchObject({ message: "The model is overloaded.", type: "api_error" });
    expect(text).not.toContain("[DONE]");
    await requestEnded(proxy, response);
    expect(proxy.log.accessLines.find((line) => line.includes(response.headers.get("x-request-id")!))).toContain("upstream_error");
  });

  test("an event the translation cannot read ends the stream with an OpenAI error event, and the request ends: its access line, its target free again", async () => {
    gemini.willReply(
      geminiReply.raw([
        `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "Part" }] }, index: 0 }] })}\r\n\r\n`,
        `data: ${JSON.stringify({ candidates: [null] })}\r\n\r\n`,
      ]),
    );
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash", { stream: true }));
    const { text } = await readBody(response);
    expect(text).toContain('"content":"Part"');
    expect(JSON.parse(text.trimEnd().split("\n\n").at(-1)!.slice(6)).error).toMatchObject({ type: "upstream_error", code: "backend_unreachable" });
    await requestEnded(proxy, response);
    expect(proxy.log.accessLines.find((line) => line.includes(response.headers.get("x-request-id")!))).toContain("upstream_error");
    const health = await (await fetch(proxy.url("/health"))).json();
    expect(health.models.find((model: { id: string }) => model.id === "flash").targets[0].inFlight).toBe(0);
  });
});

describe("operations with no Gemini translation", () => {
  const routes: [string, unknown][] = [
    ["/v1/completions", { model: "flash", prompt: "hello" }],
    ["/v1/responses", { model: "flash", input: "hello" }],
    ["/v1/images/generations", { model: "flash", prompt: "a cat" }],
    ["/v1/audio/speech", { model: "flash", input: "hello", voice: "alloy" }],
  ];
  for (const [path, body] of routes) {
    test(`${path}: 400 naming the provider, no backend call`, async () => {
      await expectOpenAIError(await postJson(proxy.url(path), body), 400, {
        code: "unsupported_endpoint",
        messageIncludes: ["served by a gemini backend", path],
      });
      expect(gemini.requests).toHaveLength(0);
    });
  }
});

describe("limits over translated answers", () => {
  test("usdPerDay: a whole answer's translated usage is priced and charged, so the next request is refused with a 429", async () => {
    gemini.willReply(geminiReply.text("Spends the day.", { usage: mockUsage(7, 3) }));
    const first = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash-budget"));
    expect(first.status).toBe(200);
    await first.text();
    expect(await usageRow(proxy, await requestEnded(proxy, first))).toMatchObject({ model: "flash-budget", prompt_tokens: 7, completion_tokens: 3 });
    const second = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash-budget"));
    const error = await expectOpenAIError(second, 429, { code: "insufficient_quota" });
    expect(error.message).toContain("$0.05 per day");
    expect(gemini.requests.length).toBe(1);
  });
});

describe("usage and keys", () => {
  test("a stream the client asked no usage of still leaves a usage row", async () => {
    gemini.willReply(geminiReply.text("counted", { usage: mockUsage(13, 2, 5) }));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("flash", { stream: true }));
    expect((await readBody(response)).text).not.toContain('"usage"');
    expect(await usageRow(proxy, await requestEnded(proxy, response))).toMatchObject({
      model: "flash",
      prompt_tokens: 13,
      completion_tokens: 7,
      total_tokens: 20,
    });
  });

  test("no backend key in any log line, nor any configured secret in anything recorded", () => {
    const lines = [...proxy.log.lines, ...proxy.log.accessLines];
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line).not.toContain(GEMINI_KEY);
    expectNoSecretLeaks();
  });
});
