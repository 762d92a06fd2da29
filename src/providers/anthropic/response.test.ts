import { describe, expect, test } from "bun:test";
import { FINISH_REASON, toChatCompletion, toProxyError } from "./response";
import type { MessagesResponse } from "./types";

const message = (over: Partial<MessagesResponse>): MessagesResponse => ({
  id: "msg_01",
  type: "message",
  role: "assistant",
  model: "claude-backend",
  content: [],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 5 },
  ...over,
});
const OPTS = { model: "client-model", created: 1700000000 };

describe("toChatCompletion", () => {
  test("text: one assistant message, the client's model name, the message id, OpenAI usage", () => {
    const { completion, thinking } = toChatCompletion(
      message({
        content: [
          { type: "text", text: "Hello" },
          { type: "text", text: " there" },
        ],
      }),
      OPTS,
    );
    expect(completion).toEqual({
      id: "msg_01",
      object: "chat.completion",
      created: 1700000000,
      model: "client-model",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello there" }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(thinking).toBeNull();
  });

  test("an id and created given by the caller win", () => {
    const { completion } = toChatCompletion(message({}), { model: "m", id: "chatcmpl-x", created: 5 });
    expect([completion.id, completion.created]).toEqual(["chatcmpl-x", 5]);
  });

  test("tool_use → tool_calls with the ids kept and the input as a JSON string; content null without text", () => {
    const { completion } = toChatCompletion(
      message({
        stop_reason: "tool_use",
        content: [
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", id: "toolu_2", name: "now", input: {} },
        ] as MessagesResponse["content"],
      }),
      OPTS,
    );
    expect(completion.choices[0].message).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
        { id: "toolu_2", type: "function", function: { name: "now", arguments: "{}" } },
      ],
    });
    expect(completion.choices[0].finish_reason).toBe("tool_calls");
  });

  test("thinking → reasoning_content; with tool calls, the signed blocks are returned under the calls' ids", () => {
    const { completion, thinking } = toChatCompletion(
      message({
        stop_reason: "tool_use",
        content: [
          { type: "thinking", thinking: "Need the weather.", signature: "sig-A" },
          { type: "redacted_thinking", data: "opaque" },
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } },
        ] as MessagesResponse["content"],
      }),
      OPTS,
    );
    expect(completion.choices[0].message.reasoning_content).toBe("Need the weather.");
    expect(completion.choices[0].message.content).toBe("Let me check.");
    expect(thinking).toEqual({
      toolCallIds: ["toolu_1"],
      blocks: [
        { type: "thinking", thinking: "Need the weather.", signature: "sig-A" },
        { type: "redacted_thinking", data: "opaque" },
      ],
    });
  });

  test("thinking without tool calls is shown but not kept (nothing will need it back)", () => {
    const { completion, thinking } = toChatCompletion(
      message({
        content: [
          { type: "thinking", thinking: "Easy.", signature: "s" },
          { type: "text", text: "4" },
        ] as MessagesResponse["content"],
      }),
      OPTS,
    );
    expect(completion.choices[0].message).toEqual({ role: "assistant", content: "4", reasoning_content: "Easy." });
    expect(thinking).toBeNull();
  });

  test("blocks of kinds an OpenAI client cannot read (server tools) are skipped", () => {
    const { completion } = toChatCompletion(
      message({ content: [{ type: "server_tool_use" }, { type: "web_search_tool_result" }, { type: "text", text: "Found it." }] }),
      OPTS,
    );
    expect(completion.choices[0].message).toEqual({ role: "assistant", content: "Found it." });
  });

  test("every stop_reason has its finish_reason", () => {
    const cases = {
      end_turn: "stop",
      stop_sequence: "stop",
      pause_turn: "stop",
      max_tokens: "length",
      model_context_window_exceeded: "length",
      tool_use: "tool_calls",
      refusal: "content_filter",
    };
    expect(FINISH_REASON).toEqual(cases as typeof FINISH_REASON);
    for (const [stop, finish] of Object.entries(cases)) {
      expect(toChatCompletion(message({ stop_reason: stop as MessagesResponse["stop_reason"] }), OPTS).completion.choices[0].finish_reason).toBe(
        finish as "stop",
      );
    }
    expect(toChatCompletion(message({ stop_reason: null }), OPTS).completion.choices[0].finish_reason).toBe("stop");
    expect(toChatCompletion(message({ stop_reason: "something_new" as "end_turn" }), OPTS).completion.choices[0].finish_reason).toBe("stop");
  });

  test("usage: prompt_tokens counts cache reads and writes; cached_tokens the reads; cache_creation_input_tokens the writes", () => {
    const { completion } = toChatCompletion(
      message({ usage: { input_tokens: 3, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 7 } }),
      OPTS,
    );
    expect(completion.usage).toEqual({
      prompt_tokens: 123,
      completion_tokens: 7,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 100 },
      cache_creation_input_tokens: 20,
    });
    const nulls = toChatCompletion(
      message({ usage: { input_tokens: 3, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 1 } }),
      OPTS,
    );
    expect(nulls.completion.usage.prompt_tokens).toBe(3);
  });
});

const anthropicError = (type: string, text: string) => ({ type: "error", error: { type, message: text }, request_id: "req_1" });

describe("toProxyError", () => {
  test("each error type keeps its status, in OpenAI's shape", () => {
    const cases: [number, string, string, string | null][] = [
      [400, "invalid_request_error", "invalid_request_error", null],
      [401, "authentication_error", "authentication_error", null],
      [403, "permission_error", "permission_error", null],
      [404, "not_found_error", "invalid_request_error", "not_found"],
      [413, "request_too_large", "invalid_request_error", "request_too_large"],
      [429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"],
      [500, "api_error", "api_error", null],
    ];
    for (const [status, type, openAIType, code] of cases) {
      const error = toProxyError(status, anthropicError(type, `about ${type}`));
      expect(error.toJSON()).toEqual({ error: { message: `about ${type}`, type: openAIType as "api_error", param: null, code } });
      expect(error.status).toBe(status);
    }
  });

  test("overloaded (529) becomes a retryable 503", () => {
    const error = toProxyError(529, anthropicError("overloaded_error", "Overloaded"));
    expect([error.status, error.type, error.code, error.message]).toEqual([503, "api_error", "overloaded", "Overloaded"]);
    expect(toProxyError(529, "").status).toBe(503);
  });

  test("a prompt that is too long is a 400 context_length_exceeded", () => {
    const error = toProxyError(400, anthropicError("invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum"));
    expect([error.status, error.type, error.code]).toEqual([400, "invalid_request_error", "context_length_exceeded"]);
    expect(error.message).toContain("210345");
  });

  test("the body may come as text or bytes; a body that is not Anthropic's shape still gives a useful message", () => {
    const json = JSON.stringify(anthropicError("rate_limit_error", "slow down"));
    expect(toProxyError(429, json).message).toBe("slow down");
    expect(toProxyError(429, new TextEncoder().encode(json)).code).toBe("rate_limit_exceeded");
    expect(toProxyError(502, "<html>Bad Gateway</html>").toJSON().error).toEqual({
      message: "<html>Bad Gateway</html>",
      type: "api_error",
      param: null,
      code: null,
    });
    expect(toProxyError(500, "").message).toBe("The Anthropic backend answered 500");
    expect(toProxyError(418, { nothing: true }).toJSON().error.type).toBe("invalid_request_error");
  });

  test("status 0 (an error event inside a stream) takes the status of its type", () => {
    expect(toProxyError(0, anthropicError("overloaded_error", "Overloaded")).status).toBe(503);
    expect(toProxyError(0, anthropicError("rate_limit_error", "slow")).status).toBe(429);
    expect(toProxyError(0, anthropicError("brand_new_error", "?")).status).toBe(500);
  });
});
