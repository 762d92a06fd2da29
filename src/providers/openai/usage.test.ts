import { describe, expect, test } from "bun:test";
import { estimatedUsageOfBody, usageOfBody } from "./usage";

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

  test("reasoning tokens a backend left out of completion_tokens (a Gemini answer through some gateways) are completion tokens, as total_tokens counts them", () => {
    // OpenAI's own: completion_tokens already holds the reasoning.
    const openAI = { usage: { prompt_tokens: 20, completion_tokens: 603, total_tokens: 623, completion_tokens_details: { reasoning_tokens: 405 } } };
    expect(usageOfBody(bytes(openAI))).toEqual({ promptTokens: 20, completionTokens: 603, totalTokens: 623 });
    const leftOut = { usage: { prompt_tokens: 20, completion_tokens: 198, total_tokens: 623, completion_tokens_details: { reasoning_tokens: 405 } } };
    expect(usageOfBody(bytes(leftOut))).toEqual({ promptTokens: 20, completionTokens: 603, totalTokens: 623 });
    const onlyThought = { usage: { prompt_tokens: 21, completion_tokens: 0, total_tokens: 81, completion_tokens_details: { reasoning_tokens: 60 } } };
    expect(usageOfBody(bytes(onlyThought))).toEqual({ promptTokens: 21, completionTokens: 60, totalTokens: 81 });
    const responses = {
      object: "response",
      usage: { input_tokens: 20, output_tokens: 198, total_tokens: 623, output_tokens_details: { reasoning_tokens: 405 } },
    };
    expect(usageOfBody(bytes(responses))).toEqual({ promptTokens: 20, completionTokens: 603, totalTokens: 623 });
  });

  test("a last `usage` key that holds no counts: the body is read whole", () => {
    const body = { usage: { prompt_tokens: 3, completion_tokens: 2 }, metadata: { usage: { kind: "note" } } };
    expect(usageOfBody(bytes(body))).toEqual({ promptTokens: 3, completionTokens: 2, totalTokens: 5 });
  });

  test("a count no request could reach (1e308 tokens) is read as absent: summed, it would overflow the stores", () => {
    expect(usageOfBody(bytes({ usage: { prompt_tokens: 1e308, completion_tokens: 2 } }))).toBeNull();
    expect(usageOfBody(bytes({ usage: { prompt_tokens: 3, completion_tokens: 2e12 } }))).toEqual({ promptTokens: 3, completionTokens: 0, totalTokens: 3 });
  });

  test("no usage, or no JSON: null", () => {
    expect(usageOfBody(bytes({ data: [{ embedding: [0.1] }] }))).toBeNull();
    expect(usageOfBody(bytes("not json"))).toBeNull();
    expect(usageOfBody(bytes('{"usage": 5}'))).toBeNull();
    expect(usageOfBody(bytes('{"usage": {"prompt_tokens": 1'))).toBeNull();
  });
});

describe("the estimate for a whole answer that names no usage", () => {
  test("a quarter of the generated characters: a chat message's content, reasoning and tool-call arguments", () => {
    const answer = {
      object: "chat.completion",
      choices: [
        {
          message: {
            content: "12345678",
            reasoning_content: "1234",
            tool_calls: [{ type: "function", function: { name: "not counted", arguments: '{"a":1}' } }],
          },
        },
        { message: { content: [{ type: "text", text: "1234" }] } },
      ],
    };
    // 8 + 4 + 7 + 4 characters.
    expect(estimatedUsageOfBody(bytes(answer), 10)).toEqual({ promptTokens: 10, completionTokens: 6, totalTokens: 16 });
  });

  test("a legacy completion's text, a Responses API output's text and summary, embeddings' prompt alone", () => {
    expect(estimatedUsageOfBody(bytes({ object: "text_completion", choices: [{ text: "123456789" }] }), 2)).toEqual({
      promptTokens: 2,
      completionTokens: 3,
      totalTokens: 5,
    });
    const response = {
      object: "response",
      output: [
        { type: "reasoning", summary: [{ type: "summary_text", text: "1234" }] },
        { type: "message", content: [{ type: "output_text", text: "12345678" }] },
        { type: "function_call", name: "f", arguments: "{}" },
      ],
    };
    expect(estimatedUsageOfBody(bytes(response), 1)).toEqual({ promptTokens: 1, completionTokens: 4, totalTokens: 5 });
    const embeddings = { object: "list", data: [{ object: "embedding", embedding: [0.1] }] };
    expect(estimatedUsageOfBody(bytes(embeddings), 7)).toEqual({ promptTokens: 7, completionTokens: 0, totalTokens: 7 });
  });

  test("anything that is not a generation is not estimated: images, transcriptions, model lists, not JSON", () => {
    expect(estimatedUsageOfBody(bytes({ created: 1, data: [{ url: "https://x" }] }), 5)).toBeNull();
    expect(estimatedUsageOfBody(bytes({ text: "a transcription" }), 5)).toBeNull();
    expect(estimatedUsageOfBody(bytes({ object: "list", data: [{ id: "m", object: "model" }] }), 5)).toBeNull();
    expect(estimatedUsageOfBody(bytes("not json"), 5)).toBeNull();
    expect(estimatedUsageOfBody(bytes([1, 2]), 5)).toBeNull();
  });
});
