import { describe, expect, test } from "bun:test";
import { anthropicErrorOf, ChatToMessagesStream, estimateInputTokens, stopReasonOf, toChatRequest, toMessagesResponse } from "./inbound";
import type { StopReason } from "./types";
import { effortOf } from "./values";

const data = (chunk: unknown) => `data: ${JSON.stringify(chunk)}\n\n`;
const delta = (d: Record<string, unknown>, finish: string | null = null) => data({ choices: [{ index: 0, delta: d, finish_reason: finish }] });

function events(bytes: string) {
  return bytes
    .split("\n\n")
    .filter((block) => block !== "")
    .map((block) => {
      const [name, payload] = block.split("\n");
      return { event: name!.slice("event: ".length), data: JSON.parse(payload!.slice("data: ".length)) };
    });
}

/** Feeds `text` in pieces of `size` bytes, as a network would cut it. */
function translate(text: string, size: number, estimate = 5): ReturnType<typeof events> {
  const stream = new ChatToMessagesStream("m", estimate);
  const bytes = new TextEncoder().encode(text);
  const decoder = new TextDecoder();
  let out = "";
  for (let i = 0; i < bytes.length; i += size) out += decoder.decode(stream.push(bytes.slice(i, i + size)));
  out += decoder.decode(stream.end());
  return events(out);
}

describe("toChatRequest", () => {
  test("system blocks, tool results first then the rest, assistant tool_use, tools and tool_choice, thinking, stream usage", () => {
    const chat = toChatRequest(
      {
        model: "x",
        max_tokens: 10,
        system: [
          { type: "text", text: "A" },
          { type: "text", text: "B" },
        ],
        messages: [
          { role: "user", content: "Hi" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "t", signature: "s" },
              { type: "text", text: "ok" },
              { type: "tool_use", id: "t1", name: "f", input: { a: 1 } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "text", text: "after" },
              { type: "tool_result", tool_use_id: "t1", content: "r" },
            ],
          },
        ],
        tools: [{ name: "f", input_schema: { type: "object" } }],
        tool_choice: { type: "tool", name: "f" },
        thinking: { type: "enabled", budget_tokens: 2048 },
        stop_sequences: ["S"],
        metadata: { user_id: "u1" },
        stream: true,
      },
      "backend",
    );
    expect(chat).toEqual({
      model: "backend",
      messages: [
        { role: "system", content: "A\n\nB" },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "ok", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] },
        { role: "tool", tool_call_id: "t1", content: "r" },
        { role: "user", content: "after" },
      ],
      max_tokens: 10,
      stop: ["S"],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "f" } },
      reasoning_effort: "low",
      user: "u1",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  test("OpenAI's reasoning models get max_completion_tokens and no sampling settings; its earlier models no reasoning_effort", () => {
    const body = {
      max_tokens: 900,
      temperature: 0.3,
      top_p: 0.9,
      thinking: { type: "enabled", budget_tokens: 5000 },
      messages: [{ role: "user", content: "x" }],
    };
    for (const model of ["o3-mini", "gpt-5", "openai/o4-mini", "GPT-5.1-codex"]) {
      const chat = toChatRequest(body, model);
      expect({ model, max: chat.max_completion_tokens, tokens: chat.max_tokens, temperature: chat.temperature, top_p: chat.top_p }).toEqual({
        model,
        max: 900,
        tokens: undefined,
        temperature: undefined,
        top_p: undefined,
      });
      expect(chat.reasoning_effort).toBe("medium");
    }
    for (const model of ["gpt-4o", "gpt-4.1-mini", "openai/gpt-3.5-turbo"]) {
      const chat = toChatRequest(body, model);
      expect({ model, tokens: chat.max_tokens, temperature: chat.temperature, effort: chat.reasoning_effort }).toEqual({
        model,
        tokens: 900,
        temperature: 0.3,
        effort: undefined,
      });
    }
    // Any other server (vLLM, Ollama): as the client sent them.
    expect(toChatRequest(body, "Qwen/Qwen3-32B")).toMatchObject({ max_tokens: 900, temperature: 0.3, top_p: 0.9, reasoning_effort: "medium" });
  });

  test("adaptive thinking becomes reasoning_effort from output_config.effort (max as high, none as medium)", () => {
    const ask = (config?: unknown) =>
      toChatRequest(
        { messages: [{ role: "user", content: "x" }], thinking: { type: "adaptive" }, ...(config !== undefined && { output_config: config }) },
        "o3",
      ).reasoning_effort;
    expect([ask({ effort: "low" }), ask({ effort: "high" }), ask({ effort: "max" }), ask()]).toEqual(["low", "high", "high", "medium"]);
    expect(toChatRequest({ messages: [], thinking: { type: "disabled" } }, "o3").reasoning_effort).toBeUndefined();
  });

  test("effort by budget; the estimate is never 0", () => {
    expect([effortOf(1024), effortOf(8000), effortOf(32000)]).toEqual(["low", "medium", "high"]);
    expect(estimateInputTokens({})).toBeGreaterThan(0);
  });
});

describe("toMessagesResponse", () => {
  test("reasoning, text, tool calls (bad arguments → {}), tool_use stop, usage without the cached tokens", () => {
    const message = toMessagesResponse(
      {
        choices: [
          {
            message: { content: "hi", reasoning_content: "r", tool_calls: [{ id: "c", function: { name: "f", arguments: "{bad" } }] },
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } },
      },
      "m",
      99,
    );
    expect(message).toMatchObject({
      type: "message",
      model: "m",
      content: [
        { type: "thinking", thinking: "r", signature: "" },
        { type: "text", text: "hi" },
        { type: "tool_use", id: "c", name: "f", input: {} },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 6, output_tokens: 2, cache_read_input_tokens: 4 },
    });
  });

  test("cache writes an OpenAI-format backend reports (LiteLLM's cache_creation_input_tokens) leave input_tokens as Anthropic's do", () => {
    const usage = { prompt_tokens: 234, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 200 }, cache_creation_input_tokens: 30 };
    expect(toMessagesResponse({ choices: [{ message: { content: "x" }, finish_reason: "stop" }], usage }, "m", 7).usage).toEqual({
      input_tokens: 4,
      output_tokens: 9,
      cache_read_input_tokens: 200,
      cache_creation_input_tokens: 30,
    });
  });

  test("length → max_tokens; no usage → the estimate", () => {
    expect(toMessagesResponse({ choices: [{ message: { content: "x" }, finish_reason: "length" }] }, "m", 7)).toMatchObject({
      stop_reason: "max_tokens",
      usage: { input_tokens: 7, output_tokens: 0 },
    });
  });

  test("every finish_reason has its stop_reason; a tool call wins over a plain stop, not over a cut", () => {
    const cases: [unknown, boolean, StopReason][] = [
      ["stop", false, "end_turn"],
      ["length", false, "max_tokens"],
      ["content_filter", false, "refusal"],
      ["tool_calls", false, "tool_use"],
      ["function_call", false, "tool_use"],
      [null, false, "end_turn"],
      ["stop", true, "tool_use"],
      ["length", true, "max_tokens"],
      ["content_filter", true, "refusal"],
    ];
    for (const [finish, madeToolCall, stop] of cases)
      expect({ finish, madeToolCall, stop: stopReasonOf(finish, madeToolCall) }).toEqual({ finish, madeToolCall, stop });
  });
});

describe("cut answers and tool choices", () => {
  test("a tool call cut by the length limit is max_tokens, not tool_use", () => {
    const completion = {
      choices: [{ message: { tool_calls: [{ id: "t", type: "function", function: { name: "read", arguments: '{"path":"/a' } }] }, finish_reason: "length" }],
    };
    expect(toMessagesResponse(completion, "m", 5).stop_reason).toBe("max_tokens");
  });

  test("tools Anthropic's servers run (web search, web fetch, code execution) are not offered to another backend", () => {
    const body = {
      messages: [{ role: "user", content: "x" }],
      tools: [
        { type: "web_search_20250305", name: "web_search", max_uses: 5 },
        { name: "lookup", input_schema: { type: "object", properties: { q: { type: "string" } } } },
        { type: "code_execution_20250825", name: "code_execution" },
      ],
      tool_choice: { type: "auto" },
    };
    expect((toChatRequest(body, "gpt").tools as { function: { name: string } }[]).map((tool) => tool.function.name)).toEqual(["lookup"]);
    const only = toChatRequest({ ...body, tools: [body.tools[0]] }, "gpt");
    expect([only.tools, only.tool_choice]).toEqual([undefined, undefined]);
  });

  test("tool_choice none with no tools sends no tool_choice (OpenAI refuses one without tools)", () => {
    const chat = toChatRequest({ messages: [{ role: "user", content: "x" }], tool_choice: { type: "none" } }, "gpt");
    expect(chat.tool_choice).toBeUndefined();
    expect(chat.tools).toBeUndefined();
  });
});

describe("ChatToMessagesStream", () => {
  const body =
    delta({ role: "assistant", content: "" }) +
    delta({ reasoning_content: "think" }) +
    delta({ content: "Hé " }) +
    delta({ content: "there" }) +
    delta({ tool_calls: [{ index: 0, id: "a", function: { name: "f", arguments: '{"x"' } }] }) +
    delta({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }) +
    delta({ tool_calls: [{ index: 1, id: "b", function: { name: "g", arguments: "" } }] }) +
    delta({}, "stop") +
    data({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 3 } }) +
    "data: [DONE]\n\n";

  test("Anthropic's order whatever the cuts: start, blocks one at a time, delta with tool_use and usage, stop", () => {
    for (const size of [1, 7, 1000]) {
      const out = translate(body, size);
      expect(out.map((e) => `${e.event}${e.data.index ?? ""}`)).toEqual([
        "message_start",
        "content_block_start0",
        "content_block_delta0",
        "content_block_stop0",
        "content_block_start1",
        "content_block_delta1",
        "content_block_delta1",
        "content_block_stop1",
        "content_block_start2",
        "content_block_delta2",
        "content_block_delta2",
        "content_block_stop2",
        "content_block_start3",
        "content_block_stop3",
        "message_delta",
        "message_stop",
      ]);
      expect(out[0]!.data.message.usage.input_tokens).toBe(5);
      expect(out[1]!.data.content_block.type).toBe("thinking");
      expect(out[8]!.data.content_block).toEqual({ type: "tool_use", id: "a", name: "f", input: {} });
      expect(out[14]!.data).toEqual({
        type: "message_delta",
        delta: { stop_reason: "tool_use", stop_sequence: null },
        usage: { input_tokens: 12, output_tokens: 3 },
      });
    }
  });

  test("parallel tool calls from a backend that gives them no index (or the same one) stay two calls, told apart by their ids", () => {
    for (const indexOf of [() => ({}), () => ({ index: 0 })]) {
      const body =
        delta({
          tool_calls: [
            { ...indexOf(), id: "a", function: { name: "f", arguments: '{"x":1}' } },
            { ...indexOf(), id: "b", function: { name: "g", arguments: '{"y":2}' } },
          ],
        }) +
        delta({}, "tool_calls") +
        "data: [DONE]\n\n";
      const out = translate(body, 1000);
      const starts = out.filter((e) => e.event === "content_block_start").map((e) => e.data.content_block);
      expect(starts).toEqual([
        { type: "tool_use", id: "a", name: "f", input: {} },
        { type: "tool_use", id: "b", name: "g", input: {} },
      ]);
      const inputs = out.filter((e) => e.event === "content_block_delta").map((e) => [e.data.index, e.data.delta.partial_json]);
      expect(inputs).toEqual([
        [0, '{"x":1}'],
        [1, '{"y":2}'],
      ]);
    }
  });

  test("parallel tool calls whose deltas interleave (index 0, 1, 0, 1) each keep their whole input; the second follows the first whole", () => {
    const body =
      delta({ tool_calls: [{ index: 0, id: "a", function: { name: "f", arguments: '{"x"' } }] }) +
      delta({ tool_calls: [{ index: 1, id: "b", function: { name: "g", arguments: '{"y"' } }] }) +
      delta({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }) +
      delta({ tool_calls: [{ index: 1, id: "b", function: { arguments: ":2" } }] }) +
      delta({ tool_calls: [{ index: 1, function: { arguments: "}" } }] }) +
      delta({}, "tool_calls") +
      "data: [DONE]\n\n";
    for (const size of [1, 1000]) {
      const out = translate(body, size);
      const starts = out.filter((e) => e.event === "content_block_start").map((e) => [e.data.index, e.data.content_block]);
      expect(starts).toEqual([
        [0, { type: "tool_use", id: "a", name: "f", input: {} }],
        [1, { type: "tool_use", id: "b", name: "g", input: {} }],
      ]);
      const inputs = new Map<number, string>();
      for (const e of out.filter((e) => e.event === "content_block_delta"))
        inputs.set(e.data.index, (inputs.get(e.data.index) ?? "") + e.data.delta.partial_json);
      expect(Object.fromEntries(inputs)).toEqual({ 0: '{"x":1}', 1: '{"y":2}' });
      expect(out.map((e) => `${e.event}${e.data.index ?? ""}`).slice(-5)).toEqual([
        "content_block_start1",
        "content_block_delta1",
        "content_block_stop1",
        "message_delta",
        "message_stop",
      ]);
      // No usage from the backend: a token per piece it sent, as if each had been streamed.
      expect(out.at(-2)!.data.usage.output_tokens).toBe(5);
      expect(out.at(-2)!.data.delta.stop_reason).toBe("tool_use");
    }
  });

  test("a body that ends without [DONE] is still closed; an error chunk becomes an error event and a failure", () => {
    expect(translate(delta({ content: "x" }, "length"), 1000).map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const stream = new ChatToMessagesStream("m", 1);
    const out = new TextDecoder().decode(stream.push(new TextEncoder().encode(data({ error: { message: "boom" } }))));
    expect(events(out).map((e) => e.event)).toEqual(["message_start", "error"]);
    expect(stream.failure()).toEqual({ message: "boom" });
    expect(new TextDecoder().decode(stream.end())).toBe("");
  });

  test("a body the relay found broken ends with Anthropic's error event, no message_stop", () => {
    const stream = new ChatToMessagesStream("m", 1);
    const out = new TextDecoder().decode(stream.push(new TextEncoder().encode(delta({ content: "x" })))) + new TextDecoder().decode(stream.broken());
    expect(events(out).map((e) => e.event)).toEqual(["message_start", "content_block_start", "content_block_delta", "error"]);
  });
});

test("anthropicErrorOf: OpenAI's shape and plain text in Anthropic's; Anthropic's kept", () => {
  expect(JSON.parse(anthropicErrorOf(429, '{"error":{"message":"slow down"}}'))).toEqual({
    type: "error",
    error: { type: "rate_limit_error", message: "slow down" },
  });
  expect(JSON.parse(anthropicErrorOf(500, "oops"))).toEqual({ type: "error", error: { type: "api_error", message: "oops" } });
  const native = '{"type":"error","error":{"type":"overloaded_error","message":"x"}}';
  expect(anthropicErrorOf(529, native)).toBe(native);
});
