import { describe, expect, test } from "bun:test";
import { usageOfBody } from "./usage";

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("usage of a whole body", () => {
  test("a chat completion's usage, read from its usage object", () => {
    const body = {
      id: "x",
      choices: [{ message: { role: "assistant", content: 'say "usage": {"prompt_tokens": 99}' } }],
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    };
    expect(usageOfBody(bytes(body))).toEqual({ promptTokens: 12, completionTokens: 5, totalTokens: 17 });
    expect(usageOfBody(bytes(body).buffer as ArrayBuffer)).toEqual({ promptTokens: 12, completionTokens: 5, totalTokens: 17 });
  });

  test("spaces, nested details and strings with braces inside the usage object", () => {
    const text = '{"usage" :  {"prompt_tokens": 7, "prompt_tokens_details": {"cached_tokens": 2, "note": "}{\\"}"}, "completion_tokens": 1}}';
    expect(usageOfBody(bytes(text))).toEqual({ promptTokens: 7, completionTokens: 1, totalTokens: 8, cachedPromptTokens: 2 });
  });

  test("the Responses API's input and output tokens", () => {
    expect(usageOfBody(bytes({ object: "response", usage: { input_tokens: 4, output_tokens: 6, total_tokens: 10 } }))).toEqual({
      promptTokens: 4,
      completionTokens: 6,
      totalTokens: 10,
    });
  });

  test("cached prompt tokens: OpenAI's details, the Responses API's, and Anthropic's Messages counts (cache reads and writes added to input_tokens, writes told apart)", () => {
    const chat = { usage: { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_tokens_details: { cached_tokens: 64 } } };
    expect(usageOfBody(bytes(chat))).toEqual({ promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedPromptTokens: 64 });
    const responses = { object: "response", usage: { input_tokens: 50, input_tokens_details: { cached_tokens: 10 }, output_tokens: 2 } };
    expect(usageOfBody(bytes(responses))).toEqual({ promptTokens: 50, completionTokens: 2, totalTokens: 52, cachedPromptTokens: 10 });
    const messages = { type: "message", usage: { input_tokens: 4, cache_read_input_tokens: 200, cache_creation_input_tokens: 30, output_tokens: 9 } };
    expect(usageOfBody(bytes(messages))).toEqual({
      promptTokens: 234,
      completionTokens: 9,
      totalTokens: 243,
      cachedPromptTokens: 200,
      cacheWritePromptTokens: 30,
    });
    // LiteLLM's OpenAI-format usage of a Claude answer names the writes the same way.
    const litellm = {
      usage: { prompt_tokens: 234, completion_tokens: 9, total_tokens: 243, prompt_tokens_details: { cached_tokens: 200 }, cache_creation_input_tokens: 30 },
    };
    expect(usageOfBody(bytes(litellm))).toEqual({
      promptTokens: 234,
      completionTokens: 9,
      totalTokens: 243,
      cachedPromptTokens: 200,
      cacheWritePromptTokens: 30,
    });
    const none = { usage: { prompt_tokens: 3, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } } };
    expect(usageOfBody(bytes(none))).toEqual({ promptTokens: 3, completionTokens: 1, totalTokens: 4 });
  });

  test("a last `usage` key that holds no counts: the body is read whole", () => {
    const body = { usage: { prompt_tokens: 3, completion_tokens: 2 }, metadata: { usage: { kind: "note" } } };
    expect(usageOfBody(bytes(body))).toEqual({ promptTokens: 3, completionTokens: 2, totalTokens: 5 });
  });

  test("no usage, or no JSON: null", () => {
    expect(usageOfBody(bytes({ data: [{ embedding: [0.1] }] }))).toBeNull();
    expect(usageOfBody(bytes("not json"))).toBeNull();
    expect(usageOfBody(bytes('{"usage": 5}'))).toBeNull();
    expect(usageOfBody(bytes('{"usage": {"prompt_tokens": 1'))).toBeNull();
  });
});
