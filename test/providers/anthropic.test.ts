// provider "anthropic", black box: the official openai SDK talks to the proxy, which talks to the
// strict mock Anthropic backend (it refuses what the real API refuses) over real HTTP. Chat whole
// and streamed, a three-turn tool conversation with thinking, images, errors and 529, a fallback to
// an OpenAI-compatible backend, usage rows, metrics and a tpm limit fed by translated answers,
// the status page's data, aliases, the 400 for operations with no translation, and no key in any log line.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { maskBackendKey } from "../../src/config/mask";
import OpenAI, { AzureOpenAI } from "openai";
import { chatBody, expectOpenAIError, postJson, readBody } from "../support/http";
import { anthropicReply, startMockAnthropic, type MockAnthropic } from "../support/mock-anthropic";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { folded, requestEnded, usageRow } from "../support/translated";
import { expectNoSecretLeaks, registerSecret } from "../support/transcript";

const ANTHROPIC_KEY = registerSecret("sk-ant-api03-provider-test-0123456789-SECRET", "anthropic provider test: backend key");
const BACKUP_KEY = registerSecret("sk-backup-provider-test-0123456789-SECRET", "anthropic provider test: backup key");
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

let anthropic: MockAnthropic;
let backup: MockBackend;
let proxy: ProxyHandle;
let client: OpenAI;

beforeAll(async () => {
  anthropic = startMockAnthropic(ANTHROPIC_KEY);
  backup = startMock("backup");
  proxy = await startProxy(
    {
      endpoints: {
        claude: {
          displayName: "Claude Sonnet",
          provider: "anthropic",
          url: anthropic.url,
          apiKey: ANTHROPIC_KEY,
          actualModelName: "claude-sonnet-4-5",
          maxTokens: 1000,
          aliases: ["claude-sonnet-4-5-*", "sonnet"],
        },
        // Retries a 529 on its lone target once.
        "claude-retry": {
          provider: "anthropic",
          url: anthropic.url,
          apiKey: ANTHROPIC_KEY,
          actualModelName: "claude-haiku-4-5",
          retry: { attempts: 2, backoffMs: 0 },
        },
        // Falls back to an OpenAI-compatible backend.
        "claude-fb": {
          targets: [{ name: "anthropic-main", provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-opus-4-1" }],
          fallbacks: ["backup"],
        },
        backup: { url: backup.url, apiKey: BACKUP_KEY, actualModelName: "backup-model" },
        // An OpenAI-compatible model falling back to Claude.
        "oai-first": { url: backup.url, apiKey: BACKUP_KEY, actualModelName: "first-model", fallbacks: ["claude"] },
        // A model that takes only adaptive thinking.
        opus: { provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-opus-4-7" },
        // Under a tokens-per-minute limit.
        "claude-tpm": { provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-haiku-4-5" },
      },
      limits: { perModel: { "claude-tpm": { tpm: 30 } } },
    },
    { label: "anthropic provider proxy log" },
  );
  client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => {
  anthropic.reset();
  backup.reset();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([anthropic.stop(), backup.stop()]);
  removeTempDirs();
});

describe("chat completions through the openai SDK", () => {
  test("non-streamed: translated both ways, the key in x-api-key with anthropic-version, never Authorization", async () => {
    anthropic.willReply(anthropicReply.text("Hello from Claude", { usage: { input_tokens: 12, cache_read_input_tokens: 100, output_tokens: 4 } }));
    const completion = await client.chat.completions.create({
      model: "claude",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      temperature: 1.5,
      stop: ["END"],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("claude");
    expect(completion.choices[0]!.message).toMatchObject({ role: "assistant", content: "Hello from Claude" });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage).toMatchObject({ prompt_tokens: 112, completion_tokens: 4, total_tokens: 116, prompt_tokens_details: { cached_tokens: 100 } });

    const seen = anthropic.last;
    expect(seen.refusal).toBeNull();
    expect(seen.path).toBe("/v1/messages");
    expect(seen.body).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 1000,
      system: [{ type: "text", text: "Be brief." }],
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
      stop_sequences: ["END"],
      temperature: 1,
    });
    expect(seen.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(seen.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(seen.headers.get("authorization")).toBeNull();
    expect([...seen.headers].join()).not.toContain(CLIENT_KEY);
  });

  test("the client's anthropic-beta passes; its own x-api-key and anthropic-version do not", async () => {
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude"), {
      "anthropic-beta": "prompt-caching-2024-07-31",
      "anthropic-version": "2099-01-01",
      "x-api-key": `${CLIENT_KEY}-x`,
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(anthropic.last.headers.get("anthropic-beta")).toBe("prompt-caching-2024-07-31");
    expect(anthropic.last.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(anthropic.last.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
  });

  test("streamed: chunks in OpenAI's shape, the usage chunk only when asked, [DONE] last", async () => {
    anthropic.willReply(anthropicReply.text("Streaming from Claude, piece by piece.", { pings: true, usage: { input_tokens: 9, output_tokens: 7 } }));
    const stream = await client.chat.completions.create({
      model: "claude",
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const result = await folded(stream);
    expect(result).toMatchObject({
      content: "Streaming from Claude, piece by piece.",
      finish: "stop",
      usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
    });
    expect(anthropic.last.body.stream).toBe(true);

    // Without include_usage: no usage chunk, and the raw stream ends with [DONE].
    anthropic.willReply(anthropicReply.text("No usage chunk."));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude", { stream: true }));
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const { text } = await readBody(response);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(text).not.toContain('"usage"');
    const events = text.split("\n\n").filter(Boolean);
    expect(JSON.parse(events[0]!.slice(6)).choices[0].delta).toEqual({ role: "assistant", content: "" });
  });

  test("the AzureOpenAI SDK's chat (a deployment path, model '') is translated like any chat completion, whole and streamed", async () => {
    const azure = new AzureOpenAI({ endpoint: proxy.url(""), apiKey: CLIENT_KEY, apiVersion: "2024-10-21", deployment: "claude", maxRetries: 0 });
    anthropic.willReply(anthropicReply.text("Hello from Claude"));
    const completion = await azure.chat.completions.create({ model: "", messages: [{ role: "user", content: "Hi" }] });
    expect(completion.choices[0]!.message.content).toBe("Hello from Claude");
    expect(anthropic.last.refusal).toBeNull();
    expect(anthropic.last.path).toBe("/v1/messages");
    expect(anthropic.last.body.model).toBe("claude-sonnet-4-5");

    anthropic.willReply(anthropicReply.text("Streamed to Azure's client.", { usage: { input_tokens: 9, output_tokens: 7 } }));
    const stream = await azure.chat.completions.create({
      model: "",
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(await folded(stream)).toMatchObject({ content: "Streamed to Azure's client.", finish: "stop", usage: { prompt_tokens: 9, completion_tokens: 7 } });
  });

  test("reasoning_effort to a model that takes only adaptive thinking: adaptive, its effort in output_config (a budget is its 400)", async () => {
    const completion = await client.chat.completions.create({ model: "opus", messages: [{ role: "user", content: "Hi" }], reasoning_effort: "medium" });
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(anthropic.last.body.thinking).toEqual({ type: "adaptive" });
    expect(anthropic.last.body.output_config).toEqual({ effort: "medium" });
  });

  test("images: a data: URL becomes a base64 source, an https URL a url source", async () => {
    await client.chat.completions.create({
      model: "claude",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What are these?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          ],
        },
      ],
    });
    expect(anthropic.last.refusal).toBeNull();
    expect(anthropic.last.body.messages[0].content).toEqual([
      { type: "text", text: "What are these?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });
});

describe("a tool conversation with thinking over three turns", () => {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
    { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
  ];

  test("streamed, then whole, then streamed: tool calls arrive whole, the signed thinking is put back each turn, the mock accepts every turn", async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Oslo, and the time?" }];

    // Turn 1, streamed: two tool calls after thinking.
    anthropic.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "I need the weather and the time." },
          { type: "tool_use", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", name: "now", input: {} },
        ],
        pings: true,
        pieceSize: 3,
      }),
    );
    const first = await folded(await client.chat.completions.create({ model: "claude", messages, tools, reasoning_effort: "low", stream: true }));
    expect(first.finish).toBe("tool_calls");
    expect(first.reasoning).toBe("I need the weather and the time.");
    expect(first.calls.map((call) => [call.function.name, JSON.parse(call.function.arguments)])).toEqual([
      ["get_weather", { city: "Oslo" }],
      ["now", {}],
    ]);
    expect(anthropic.last.body.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });

    // Turn 2, whole: the client sends back what it saw (no thinking: OpenAI clients drop it).
    messages.push({ role: "assistant", content: null, tool_calls: first.calls });
    messages.push({ role: "tool", tool_call_id: first.calls[0]!.id, content: "sunny" });
    messages.push({ role: "tool", tool_call_id: first.calls[1]!.id, content: "12:00" });
    anthropic.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Rome as well." },
          { type: "text", text: "Checking Rome." },
          { type: "tool_use", name: "get_weather", input: { city: "Rome" } },
        ],
      }),
    );
    const second = await client.chat.completions.create({ model: "claude", messages, tools, reasoning_effort: "low" });
    expect(anthropic.last.refusal).toBeNull();
    expect(anthropic.last.body.messages[1].content[0]).toMatchObject({ type: "thinking", thinking: "I need the weather and the time." });
    expect(anthropic.last.body.messages[2].content.map((block: { type: string }) => block.type)).toEqual(["tool_result", "tool_result"]);
    const secondMessage = second.choices[0]!.message;
    expect(second.choices[0]!.finish_reason).toBe("tool_calls");
    expect(secondMessage.content).toBe("Checking Rome.");
    expect((secondMessage as { reasoning_content?: string }).reasoning_content).toBe("Rome as well.");
    expect(secondMessage.tool_calls!.map((call) => (call as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall).function.arguments)).toEqual([
      '{"city":"Rome"}',
    ]);

    // Turn 3, streamed: the thinking of both earlier tool turns goes back.
    messages.push({ role: "assistant", content: secondMessage.content, tool_calls: secondMessage.tool_calls });
    messages.push({ role: "tool", tool_call_id: secondMessage.tool_calls![0]!.id, content: "rainy" });
    anthropic.willReply(anthropicReply.text("Oslo is sunny, Rome rainy; it is 12:00.", { usage: { input_tokens: 40, output_tokens: 12 } }));
    const third = await folded(
      await client.chat.completions.create({
        model: "claude",
        messages,
        tools,
        reasoning_effort: "low",
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(third).toMatchObject({ content: "Oslo is sunny, Rome rainy; it is 12:00.", finish: "stop", usage: { prompt_tokens: 40, completion_tokens: 12 } });
    const replayed = anthropic.last.body.messages;
    expect(replayed[1].content[0]).toMatchObject({ type: "thinking", thinking: "I need the weather and the time." });
    expect(replayed[3].content[0]).toMatchObject({ type: "thinking", thinking: "Rome as well." });
    expect(anthropic.last.body.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
    expect(anthropic.requests.map((request) => request.refusal)).toEqual([null, null, null]);
  });

  test("a next turn whose thinking was never kept goes without thinking rather than be refused", async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: "user", content: "Time?" },
      { role: "assistant", content: null, tool_calls: [{ id: "toolu_unknown_1", type: "function", function: { name: "now", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "toolu_unknown_1", content: "12:00" },
    ];
    const completion = await client.chat.completions.create({ model: "claude", messages, tools, reasoning_effort: "low" });
    expect(completion.choices[0]!.message.content).toBe("Hello from mock Anthropic");
    expect(anthropic.last.refusal).toBeNull();
    expect(anthropic.last.body.thinking).toBeUndefined();
  });
});

describe("errors, retries and fallbacks", () => {
  test("an Anthropic error reaches the client in OpenAI's shape with the same status", async () => {
    anthropic.willReply(anthropicReply.error(400, "invalid_request_error", "messages.0: bad things"));
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("claude")), 400, {
      type: "invalid_request_error",
      messageIncludes: ["bad things"],
    });
    anthropic.willReply(anthropicReply.error(401, "authentication_error", "invalid x-api-key"));
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("claude")), 401, { type: "authentication_error" });
    // An error quoting the key the proxy sent reaches the client with it masked.
    anthropic.willReply(anthropicReply.error(401, "authentication_error", `invalid x-api-key: ${ANTHROPIC_KEY}`));
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("claude")), 401, {
      type: "authentication_error",
      messageIncludes: [`invalid x-api-key: ${maskBackendKey(ANTHROPIC_KEY)}`],
    });
    anthropic.willReply(anthropicReply.error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"));
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("claude", { stream: true })), 400, {
      code: "context_length_exceeded",
    });
  });

  test("the SDK raises its own error classes for them; Anthropic's retry-after reaches the client", async () => {
    anthropic.willReply(
      anthropicReply.error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", { "retry-after": "37" }),
    );
    const error = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "Hi" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.headers.get("retry-after")).toBe("37");
  });

  test("529 overloaded is a 503 to the client, retryable like one", async () => {
    anthropic.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded"));
    const lone = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude"));
    await expectOpenAIError(lone, 503, { type: "api_error", code: "overloaded" });
    expect(anthropic.requests).toHaveLength(1);

    anthropic.reset();
    let calls = 0;
    anthropic.willReply(() => (++calls === 1 ? anthropicReply.error(529, "overloaded_error", "Overloaded") : anthropicReply.text("Second time lucky")));
    const retried = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude-retry"));
    expect(retried.status).toBe(200);
    expect((await retried.json()).choices[0].message.content).toBe("Second time lucky");
    expect(retried.headers.get("x-cm-proxy-attempts")).toBe("2");
    expect(anthropic.requests).toHaveLength(2);
  });

  test("a 529 falls back to the OpenAI-compatible model, whose answer is relayed as it came", async () => {
    anthropic.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded"));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude-fb"));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: "chatcmpl-backup", model: "backup-model", choices: [{ message: { content: "hello from backup" } }] });
    expect(response.headers.get("x-cm-proxy-served-by")).toBe("backup/backup#0");
    expect(anthropic.requests).toHaveLength(1);
    expect(backup.last.headers.get("authorization")).toBe(`Bearer ${BACKUP_KEY}`);
    expect(backup.last.json().model).toBe("backup-model");
    await requestEnded(proxy, response);
  });

  test("an error event inside a 200 stream ends the client's stream with an OpenAI error event", async () => {
    anthropic.willReply(anthropicReply.answer({ content: [{ type: "text", text: "Partial answer that is cut" }], errorAfterEvents: 4 }));
    const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude", { stream: true }));
    expect(response.status).toBe(200);
    const { text } = await readBody(response);
    const last = JSON.parse(text.trimEnd().split("\n\n").at(-1)!.slice(6));
    expect(last.error).toMatchObject({ type: "api_error", code: "overloaded" });
    expect(text).not.toContain("[DONE]");
    await requestEnded(proxy, response);
    expect(proxy.log.accessLines.find((line) => line.includes(response.headers.get("x-request-id")!))).toContain("upstream_error");
  });
});

describe("operations with no Anthropic translation", () => {
  const routes: [string, unknown][] = [
    ["/v1/embeddings", { model: "claude", input: "hello" }],
    ["/v1/completions", { model: "claude", prompt: "hello" }],
    ["/v1/responses", { model: "claude", input: "hello" }],
    ["/v1/images/generations", { model: "claude", prompt: "a cat" }],
    ["/v1/audio/speech", { model: "claude", input: "hello", voice: "alloy" }],
  ];
  for (const [path, body] of routes) {
    test(`${path}: 400 naming the provider, no backend call`, async () => {
      await expectOpenAIError(await postJson(proxy.url(path), body), 400, {
        type: "invalid_request_error",
        code: "unsupported_endpoint",
        messageIncludes: ["served by an anthropic backend", path],
      });
      expect(anthropic.requests).toHaveLength(0);
    });
  }

  test("as a fallback: a call Claude cannot take is skipped, and the earlier failure is the answer", async () => {
    backup.willReply(reply.json({ error: { message: "busy", type: "server_error" } }, { status: 503 }));
    const response = await postJson(proxy.url("/v1/embeddings"), { model: "oai-first", input: "hello" });
    expect(response.status).toBe(503);
    expect((await response.json()).error.message).toBe("busy");
    expect(anthropic.requests).toHaveLength(0);

    // A chat goes on to Claude.
    const chat = await postJson(proxy.url("/v1/chat/completions"), chatBody("oai-first"));
    expect(chat.status).toBe(200);
    expect((await chat.json()).choices[0].message.content).toBe("Hello from mock Anthropic");
    expect(chat.headers.get("x-cm-proxy-served-by")).toBe("claude/claude#0");
  });

  test("a request the translation cannot express is a 400 before any backend call", async () => {
    const body = chatBody("claude", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/bmp;base64,Qk0=" } }] }] });
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), body), 400, { type: "invalid_request_error" });
    expect(anthropic.requests).toHaveLength(0);
  });
});

describe("aliases", () => {
  test("an exact alias and a glob alias resolve to the model; neither is listed in /models", async () => {
    for (const asked of ["sonnet", "claude-sonnet-4-5-20250929"]) {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody(asked));
      expect(response.status).toBe(200);
      expect(response.headers.get("x-cm-proxy-model")).toBe("claude");
      await response.text();
      expect(anthropic.last.body.model).toBe("claude-sonnet-4-5");
    }
    const models = await (await fetch(proxy.url("/v1/models"), { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).json();
    expect(models.data.map((model: { id: string }) => model.id)).toEqual(["claude", "claude-retry", "claude-fb", "backup", "oai-first", "opus", "claude-tpm"]);
    await expectOpenAIError(await postJson(proxy.url("/v1/chat/completions"), chatBody("claude-opus-9")), 404, { code: "model_not_found" });
  });
});

describe("usage and metrics from translated answers", () => {
  test("a whole answer and a stream both leave a usage row with Anthropic's tokens in OpenAI's terms, and feed the token metrics", async () => {
    anthropic.willReply(anthropicReply.text("whole", { usage: { input_tokens: 21, cache_creation_input_tokens: 4, output_tokens: 6 } }));
    const whole = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude"));
    await whole.text();
    expect(await usageRow(proxy, await requestEnded(proxy, whole))).toMatchObject({
      model: "claude",
      target: "claude#0",
      status: 200,
      outcome: "ok",
      prompt_tokens: 25,
      completion_tokens: 6,
      total_tokens: 31,
    });

    // The client did not ask for usage: the proxy still counts it (and sends no usage chunk).
    anthropic.willReply(anthropicReply.text("streamed", { usage: { input_tokens: 8, cache_read_input_tokens: 30, output_tokens: 3 } }));
    const streamed = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude", { stream: true }));
    expect((await readBody(streamed)).text).not.toContain('"usage"');
    expect(await usageRow(proxy, await requestEnded(proxy, streamed))).toMatchObject({
      model: "claude",
      prompt_tokens: 38,
      completion_tokens: 3,
      total_tokens: 41,
    });

    const metrics = await (await fetch(proxy.url("/metrics"))).text();
    const tokens = (type: string) => Number(new RegExp(`^cm_proxy_tokens_total\\{model="claude",type="${type}"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
    expect(tokens("prompt")).toBeGreaterThanOrEqual(63);
    expect(tokens("completion")).toBeGreaterThanOrEqual(9);
  });
});

describe("the status page's data over translated answers", () => {
  test("/status.json counts a Claude target's requests, tokens and time to first byte as it does any other, and names no key", async () => {
    anthropic.willReply(anthropicReply.text("counted", { usage: { input_tokens: 5, output_tokens: 2 } }));
    const answered = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude"));
    await answered.text();
    await requestEnded(proxy, answered);
    const response = await fetch(proxy.url("/status.json"));
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(ANTHROPIC_KEY);
    const claude = JSON.parse(text).models.find((model: { id: string }) => model.id === "claude");
    expect(claude.displayName).toBe("Claude Sonnet");
    expect(claude.requests5m).toBeGreaterThanOrEqual(1);
    expect(claude.tokensToday.prompt).toBeGreaterThanOrEqual(5);
    expect(claude.tokensToday.completion).toBeGreaterThanOrEqual(2);
    const [target] = claude.targets;
    expect(target).toMatchObject({ name: "claude#0", state: "up" });
    expect(target.requests5m).toBeGreaterThanOrEqual(1);
    expect(target.ttfbP50Ms).toBeGreaterThanOrEqual(0);
  });
});

describe("limits over translated answers", () => {
  test("tpm: a stream's translated usage is charged at its end, so the next request is refused with a 429", async () => {
    anthropic.willReply(anthropicReply.text("Spends the minute.", { usage: { input_tokens: 25, output_tokens: 10 } }));
    const first = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude-tpm", { stream: true }));
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe("30");
    expect((await readBody(first)).text).toContain("[DONE]");
    expect(await usageRow(proxy, await requestEnded(proxy, first))).toMatchObject({ model: "claude-tpm", total_tokens: 35 });
    const second = await postJson(proxy.url("/v1/chat/completions"), chatBody("claude-tpm"));
    await expectOpenAIError(second, 429, { code: "rate_limit_exceeded" });
    expect(second.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
    expect(anthropic.requests.length).toBe(1);
  });
});

describe("keys", () => {
  test("no backend key in any log line", () => {
    const lines = [...proxy.log.lines, ...proxy.log.accessLines];
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      expect(line).not.toContain(ANTHROPIC_KEY);
      expect(line).not.toContain(BACKUP_KEY);
    }
  });

  test("no configured secret appears in any response or log line recorded so far", () => {
    expectNoSecretLeaks();
  });
});
