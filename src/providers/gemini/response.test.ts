import { describe, expect, test } from "bun:test";
import { finishReason, toChatCompletion, toProxyError } from "./response";
import { signatureOf } from "./tool-call-id";
import type { GenerateContentResponse } from "./types";

/** Stable ids: n1, n2, … */
const counter = () => {
  let n = 0;
  return () => `n${++n}`;
};
const OPTS = () => ({ model: "gemini-2.5-flash", created: 1700000000, nonce: counter() });

// Recorded shape (gemini-2.5-flash, a forced call): the signature rides on the functionCall part.
const SIGNATURE = "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbd/dfpmNpgBw==";
const FUNCTION_CALL: GenerateContentResponse = {
  candidates: [
    {
      content: { parts: [{ functionCall: { name: "getWeather", args: { location: "Tokyo" } }, thoughtSignature: SIGNATURE }], role: "model" },
      finishReason: "STOP",
      index: 0,
      finishMessage: "Model generated function call(s).",
    },
  ],
  usageMetadata: { promptTokenCount: 83, candidatesTokenCount: 14, totalTokenCount: 201, thoughtsTokenCount: 104 },
  modelVersion: "gemini-2.5-flash",
  responseId: "qpc2afWVFJK4vr0Pq6WiyAU",
};

describe("toChatCompletion", () => {
  test("text parts joined; thought parts as reasoning_content; usage with thoughts and cached tokens", () => {
    const completion = toChatCompletion(
      {
        candidates: [
          {
            content: {
              role: "model",
              parts: [
                { text: "**Planning**\n", thought: true },
                { text: "I consider.", thought: true },
                { text: "Hello, " },
                { text: "world.", thoughtSignature: "c2ln" },
              ],
            },
            finishReason: "STOP",
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 120, cachedContentTokenCount: 100, candidatesTokenCount: 5, thoughtsTokenCount: 30, totalTokenCount: 155 },
        responseId: "r1",
      },
      OPTS(),
    );
    expect(completion).toEqual({
      id: "chatcmpl-r1",
      object: "chat.completion",
      created: 1700000000,
      model: "gemini-2.5-flash",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello, world.", reasoning_content: "**Planning**\nI consider." }, finish_reason: "stop" }],
      usage: {
        prompt_tokens: 120,
        completion_tokens: 35,
        total_tokens: 155,
        prompt_tokens_details: { cached_tokens: 100 },
        completion_tokens_details: { reasoning_tokens: 30 },
      },
    });
  });

  test("a function call → tool_calls with a generated id carrying its signature; STOP → tool_calls", () => {
    const completion = toChatCompletion(FUNCTION_CALL, OPTS());
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      { id: expect.stringMatching(/^call_n1__ts_/), type: "function", function: { name: "getWeather", arguments: '{"location":"Tokyo"}' } },
    ]);
    expect(signatureOf(choice.message.tool_calls![0]!.id)).toBe(SIGNATURE);
    expect(completion.usage).toMatchObject({ prompt_tokens: 83, completion_tokens: 118, total_tokens: 201 });
  });

  test("parallel calls: each its own id, only the signed one carries a signature; text stays beside them", () => {
    const completion = toChatCompletion(
      {
        candidates: [
          {
            content: {
              role: "model",
              parts: [{ text: "Checking both." }, { functionCall: { name: "w", args: { c: "a" } }, thoughtSignature: "QUJD" }, { functionCall: { name: "w" } }],
            },
            finishReason: "STOP",
          },
        ],
      },
      OPTS(),
    );
    const { message } = completion.choices[0]!;
    expect(message.content).toBe("Checking both.");
    expect(message.tool_calls!.map((call) => [call.id, call.function.arguments])).toEqual([
      ["call_n1__ts_QUJD", '{"c":"a"}'],
      ["call_n2", "{}"],
    ]);
    expect(completion.usage).toBeUndefined();
    expect(completion.id).toBe("chatcmpl-n3");
  });

  test("a prompt blocked by promptFeedback is an empty answer with content_filter, not an empty success", () => {
    const completion = toChatCompletion(
      { promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 }, responseId: "b" },
      OPTS(),
    );
    expect(completion.choices).toEqual([{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "content_filter" }]);
    expect(completion.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 });
  });

  test("a candidate stopped for safety has empty content and content_filter", () => {
    const completion = toChatCompletion({ candidates: [{ finishReason: "SAFETY", index: 0 }] }, OPTS());
    expect(completion.choices[0]).toEqual({ index: 0, message: { role: "assistant", content: "" }, finish_reason: "content_filter" });
  });

  test("several candidates (n) become choices by index", () => {
    const completion = toChatCompletion(
      {
        candidates: [
          { index: 0, content: { parts: [{ text: "a" }] }, finishReason: "STOP" },
          { index: 1, content: { parts: [{ text: "b" }] }, finishReason: "MAX_TOKENS" },
        ],
      },
      OPTS(),
    );
    expect(completion.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, "a", "stop"],
      [1, "b", "length"],
    ]);
  });
});

describe("finishReason", () => {
  test.each([
    ["STOP", false, "stop"],
    ["STOP", true, "tool_calls"],
    ["MAX_TOKENS", false, "length"],
    ["MAX_TOKENS", true, "length"],
    ["SAFETY", false, "content_filter"],
    ["BLOCKLIST", false, "content_filter"],
    ["PROHIBITED_CONTENT", false, "content_filter"],
    ["SPII", false, "content_filter"],
    ["RECITATION", false, "content_filter"],
    ["IMAGE_SAFETY", false, "content_filter"],
    ["OTHER", false, "stop"],
    ["MALFORMED_FUNCTION_CALL", false, "stop"],
    ["FINISH_REASON_UNSPECIFIED", true, "tool_calls"],
  ] as const)("%s (calls: %p) → %s", (reason, called, expected) => {
    expect(finishReason(reason, called)).toBe(expected);
  });
});

describe("toProxyError", () => {
  const gemini = (code: number, status: string, message: string, details?: unknown[]) => JSON.stringify({ error: { code, message, status, details } });

  test("400 INVALID_ARGUMENT keeps its status and message", () => {
    const error = toProxyError(400, gemini(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n"));
    expect(error.status).toBe(400);
    expect(error.toJSON()).toEqual({
      error: {
        message: "* GenerateContentRequest.contents: contents is not specified\n",
        type: "invalid_request_error",
        param: null,
        code: "invalid_argument",
      },
    });
  });

  test("429 stays 429 (retried), as rate_limit_exceeded, with Gemini's retryDelay as retry-after", () => {
    const body = gemini(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota", [
      { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [] },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31.5s" },
    ]);
    const error = toProxyError(429, new TextEncoder().encode(body));
    expect([error.status, error.type, error.code]).toEqual([429, "rate_limit_error", "rate_limit_exceeded"]);
    expect(error.headers).toEqual({ "retry-after": "32" });
  });

  test("503 UNAVAILABLE stays 503 (retried); auth and permission statuses get OpenAI's types", () => {
    const unavailable = toProxyError(503, gemini(503, "UNAVAILABLE", "The model is overloaded. Please try again later."));
    expect([unavailable.status, unavailable.type, unavailable.code, unavailable.headers]).toEqual([503, "api_error", "unavailable", undefined]);
    expect(toProxyError(401, gemini(401, "UNAUTHENTICATED", "x")).type).toBe("authentication_error");
    expect(toProxyError(403, gemini(403, "PERMISSION_DENIED", "x")).type).toBe("permission_error");
    expect(toProxyError(404, gemini(404, "NOT_FOUND", "models/x is not found")).type).toBe("invalid_request_error");
  });

  test("a prompt over the context window is context_length_exceeded", () => {
    const error = toProxyError(400, gemini(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."));
    expect(error.code).toBe("context_length_exceeded");
  });

  test("an error wrapped in an array, a body that is not JSON, an empty body", () => {
    expect(toProxyError(500, `[${gemini(500, "INTERNAL", "boom")}]`).message).toBe("boom");
    expect(toProxyError(502, "<html>Bad Gateway</html>").toJSON().error).toEqual({
      message: "Gemini answered 502: <html>Bad Gateway</html>",
      type: "api_error",
      param: null,
      code: null,
    });
    expect(toProxyError(500, new ArrayBuffer(0)).message).toBe("Gemini answered 500");
  });
});
