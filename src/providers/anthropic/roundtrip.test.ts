// The three translations together against the strict Anthropic mock: what toMessagesRequest writes
// is accepted, and what comes back reads as OpenAI, over whole tool conversations with thinking.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { anthropicReply, startMockAnthropic, type MockAnthropic } from "../../../test/support/mock-anthropic";
import { toMessagesRequest, type ChatBody } from "./request";
import { toChatCompletion, toProxyError } from "./response";
import { MessagesStreamTranslator } from "./stream";
import type { MessagesResponse, ReplayedThinking, SignedThinking } from "./types";

const KEY = "sk-ant-roundtrip";
let mock: MockAnthropic;
beforeAll(() => {
  mock = startMockAnthropic(KEY);
});
beforeEach(() => mock.reset());
afterAll(() => mock.stop());

const post = (body: unknown) =>
  fetch(`${mock.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });

/** What a caller would keep: signed thinking under each tool call id of its turn. */
class ThinkingStore {
  private readonly byId = new Map<string, readonly ReplayedThinking[]>();
  keep(signed: SignedThinking | null): void {
    if (signed) for (const id of signed.toolCallIds) this.byId.set(id, signed.blocks);
  }
  readonly lookup = (ids: readonly string[]) => this.byId.get(ids[0]!);
}

/** A streamed answer read the way an OpenAI SDK client folds chunks into one assistant message. */
async function streamed(chat: ChatBody, store?: ThinkingStore) {
  const request = toMessagesRequest(chat, { model: "claude-backend", maxTokens: 2048, thinkingFor: store?.lookup });
  const response = await post(request);
  expect({ status: response.status, refusal: mock.last.refusal }).toEqual({ status: 200, refusal: null });
  const translator = new MessagesStreamTranslator({ model: "claude", includeUsage: true });
  let out = "";
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) out += decoder.decode(translator.push(chunk), { stream: true });
  out += decoder.decode(translator.end());
  store?.keep(translator.thinking());
  const message: { role: "assistant"; content: string; reasoning_content?: string; tool_calls?: any[] } = { role: "assistant", content: "" };
  let finish: string | null = null;
  for (const event of out.split("\n\n").filter(Boolean)) {
    const data = event.slice("data: ".length);
    if (data === "[DONE]") continue;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(chunk.error.message);
    const choice = chunk.choices[0];
    if (!choice) continue;
    finish = choice.finish_reason ?? finish;
    if (choice.delta.content) message.content += choice.delta.content;
    if (choice.delta.reasoning_content) message.reasoning_content = (message.reasoning_content ?? "") + choice.delta.reasoning_content;
    for (const call of choice.delta.tool_calls ?? []) {
      const calls = (message.tool_calls ??= []);
      calls[call.index] ??= { id: call.id, type: "function", function: { name: call.function.name, arguments: "" } };
      calls[call.index].function.arguments += call.function.arguments ?? "";
    }
  }
  return { request, message, finish, translator, out };
}

const WEATHER = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const NOW = { type: "function", function: { name: "now" } };

describe("a tool conversation with thinking, over three turns, streamed", () => {
  test("the signed thinking kept from each tool turn is put back, so the mock (which checks signatures) accepts every turn", async () => {
    const store = new ThinkingStore();
    const messages: any[] = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather in Oslo, and the time?" },
    ];
    const base = { model: "claude", tools: [WEATHER, NOW], reasoning_effort: "low", stream: true, stream_options: { include_usage: true } };

    mock.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Two tools needed." },
          { type: "tool_use", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", name: "now", input: {} },
        ],
        pings: true,
      }),
    );
    const first = await streamed({ ...base, messages }, store);
    expect(first.finish).toBe("tool_calls");
    expect(first.message.reasoning_content).toBe("Two tools needed.");
    expect(first.message.tool_calls!.map((call) => [call.function.name, JSON.parse(call.function.arguments)])).toEqual([
      ["get_weather", { city: "Oslo" }],
      ["now", {}],
    ]);
    expect(first.request.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });

    // The client sends back what it saw (no signatures: OpenAI clients drop unknown fields).
    messages.push({ role: "assistant", content: first.message.content || null, tool_calls: first.message.tool_calls });
    for (const call of first.message.tool_calls!)
      messages.push({ role: "tool", tool_call_id: call.id, content: call.function.name === "now" ? "12:00" : "sunny" });
    mock.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Check Rome too." },
          { type: "tool_use", name: "get_weather", input: { city: "Rome" } },
        ],
      }),
    );
    const second = await streamed({ ...base, messages }, store);
    expect(second.request.thinking).toBeDefined();
    expect(mock.last.body.messages[1].content[0]).toMatchObject({ type: "thinking", thinking: "Two tools needed." });

    messages.push({ role: "assistant", content: null, tool_calls: second.message.tool_calls });
    messages.push({ role: "tool", tool_call_id: second.message.tool_calls![0].id, content: "rainy" });
    mock.willReply(anthropicReply.text("Oslo sunny, Rome rainy, 12:00.", { usage: { input_tokens: 30, cache_read_input_tokens: 500, output_tokens: 9 } }));
    const third = await streamed({ ...base, messages }, store);
    expect(third.message.content).toBe("Oslo sunny, Rome rainy, 12:00.");
    expect(third.finish).toBe("stop");
    expect(third.translator.usage()).toEqual({ promptTokens: 530, completionTokens: 9, totalTokens: 539, cachedPromptTokens: 500 });
    expect(mock.requests.map((request) => request.refusal)).toEqual([null, null, null]);
  });

  test("without kept thinking, the tool turn goes without thinking instead of being refused", async () => {
    const messages = [
      { role: "user", content: "Weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "toolu_lost", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      },
      { role: "tool", tool_call_id: "toolu_lost", content: "sunny" },
    ];
    const { request, message } = await streamed({ model: "claude", tools: [WEATHER], reasoning_effort: "high", stream: true, messages });
    expect(request.thinking).toBeUndefined();
    expect(message.content).toBe("Hello from mock Anthropic");
  });
});

describe("whatever an OpenAI client sends, the request is one the API accepts", () => {
  test("a body with every awkward part", async () => {
    const chat: ChatBody = {
      model: "claude",
      messages: [
        { role: "assistant", content: "Hi! What can I do?" },
        { role: "developer", content: "Answer in English." },
        {
          role: "user",
          content: [
            { type: "text", text: "" },
            { type: "text", text: "What is on this picture?" },
            { type: "image_url", image_url: { url: "data:image/jpg;base64,/9j/4AAQ" } },
          ],
        },
        { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] },
        {
          role: "assistant",
          content: "Let me look it up.  ",
          tool_calls: [{ id: "functions.get_weather:0", type: "function", function: { name: "get_weather", arguments: "{broken" } }],
        },
        { role: "tool", tool_call_id: "functions.get_weather:0", content: "" },
        { role: "user", content: "  " },
        { role: "user", content: "Thanks. And now?" },
        { role: "assistant", content: "Now it is " },
      ],
      tools: [WEATHER],
      tool_choice: "required",
      parallel_tool_calls: false,
      temperature: 1.5,
      top_p: 0.3,
      stop: ["\n\n", "END"],
      user: "someone@example.com",
      presence_penalty: 0.5,
      seed: 3,
      stream_options: null,
    };
    const response = await post(toMessagesRequest(chat, { model: "claude-backend", maxTokens: 1024 }));
    expect(mock.last.refusal).toBeNull();
    expect(response.status).toBe(200);
  });

  test("a tool history sent without its tools", async () => {
    const chat: ChatBody = {
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
        { role: "user", content: "Thanks" },
      ],
    };
    await post(toMessagesRequest(chat, { model: "claude-backend", maxTokens: 1024 }));
    expect(mock.last.refusal).toBeNull();
  });
});

describe("whole answers and errors", () => {
  test("a non-streamed tool answer with thinking reads as an OpenAI completion", async () => {
    mock.willReply(
      anthropicReply.answer({
        content: [
          { type: "thinking", thinking: "Use the tool." },
          { type: "text", text: "Checking." },
          { type: "tool_use", name: "get_weather", input: { city: "Oslo" } },
        ],
        usage: { input_tokens: 5, cache_creation_input_tokens: 40, output_tokens: 20 },
      }),
    );
    const request = toMessagesRequest(
      { messages: [{ role: "user", content: "Weather?" }], tools: [WEATHER], reasoning_effort: "low" },
      { model: "claude-backend", maxTokens: 2048 },
    );
    const body = (await (await post(request)).json()) as MessagesResponse;
    const { completion, thinking } = toChatCompletion(body, { model: "claude", created: 1 });
    expect(completion.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { content: "Checking.", reasoning_content: "Use the tool.", tool_calls: [{ function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
    });
    expect(completion.usage).toEqual({
      prompt_tokens: 45,
      completion_tokens: 20,
      total_tokens: 65,
      prompt_tokens_details: { cached_tokens: 0 },
      cache_creation_input_tokens: 40,
    });
    expect(thinking?.toolCallIds).toEqual([completion.choices[0].message.tool_calls![0]!.id]);
  });

  test("an overloaded answer becomes a retryable 503; a refusal keeps its 400 and message", async () => {
    mock.willReply(anthropicReply.error(529, "overloaded_error", "Overloaded"));
    const overloaded = await post(toMessagesRequest({ messages: [{ role: "user", content: "Hi" }] }, { model: "m", maxTokens: 10 }));
    expect(toProxyError(overloaded.status, await overloaded.text()).status).toBe(503);
    mock.reset();
    const refused = await post({ model: "m", messages: [{ role: "user", content: "Hi" }] });
    const error = toProxyError(refused.status, await refused.arrayBuffer());
    expect([error.status, error.message]).toEqual([400, "max_tokens: Field required"]);
  });

  test("an error event mid-stream reaches the client as the proxy's error event", async () => {
    mock.willReply(anthropicReply.text("Hello there, friend", { errorAfterEvents: 4 }));
    await expect(streamed({ messages: [{ role: "user", content: "Hi" }], stream: true })).rejects.toThrow("Overloaded");
  });
});
