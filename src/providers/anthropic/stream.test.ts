import { describe, expect, test } from "bun:test";
import { MessagesStreamTranslator, type StreamOptions } from "./stream";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OPTS: StreamOptions = { model: "client-model", includeUsage: false, created: 1700000000 };

/** One event as the API writes it. */
const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const start = (usage: Record<string, unknown> = { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 }) =>
  ev("message_start", {
    message: { id: "msg_01XY", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], stop_reason: null, stop_sequence: null, usage },
  });
const blockStart = (index: number, block: Record<string, unknown>) => ev("content_block_start", { index, content_block: block });
const delta = (index: number, value: Record<string, unknown>) => ev("content_block_delta", { index, delta: value });
const text = (index: number, value: string) => delta(index, { type: "text_delta", text: value });
const json = (index: number, value: string) => delta(index, { type: "input_json_delta", partial_json: value });
const blockStop = (index: number) => ev("content_block_stop", { index });
const PING = 'event: ping\ndata: {"type": "ping"}\n\n';
const messageDelta = (stopReason: string, usage: Record<string, unknown> = { output_tokens: 12 }) =>
  ev("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage });
const STOP = ev("message_stop", {});

/** A recorded answer: text, with a ping between blocks as the API sends one. */
const TEXT_STREAM = [
  start(),
  blockStart(0, { type: "text", text: "" }),
  PING,
  text(0, "Hello"),
  text(0, ", wörld 👋"),
  blockStop(0),
  messageDelta("end_turn"),
  STOP,
].join("");

/** Feeds `stream` in pieces of `size` bytes (all at once when 0) and reads what came out. */
function run(stream: string | Uint8Array, opts: Partial<StreamOptions> = {}, size = 0) {
  const translator = new MessagesStreamTranslator({ ...OPTS, ...opts });
  const bytes = typeof stream === "string" ? encoder.encode(stream) : stream;
  const parts: Uint8Array[] = [];
  const step = size || bytes.length;
  for (let i = 0; i < bytes.length; i += step) parts.push(translator.push(bytes.subarray(i, i + step)));
  parts.push(translator.end());
  const out = decoder.decode(Buffer.concat(parts));
  return { out, events: dataOf(out), translator };
}

/** The parsed `data:` of each output event ("[DONE]" kept as is). */
function dataOf(out: string): any[] {
  return out
    .split("\n\n")
    .filter(Boolean)
    .map((event) => {
      expect(event.startsWith("data: ")).toBe(true);
      const data = event.slice(6);
      return data === "[DONE]" ? data : JSON.parse(data);
    });
}

const deltas = (events: any[]) => events.filter((event) => event !== "[DONE]" && event.choices?.length).map((event) => event.choices[0].delta);
const finishes = (events: any[]) =>
  events.filter((event) => event !== "[DONE]" && event.choices?.[0]?.finish_reason).map((event) => event.choices[0].finish_reason);

describe("text", () => {
  test("message_start → a role chunk; text deltas → content; message_delta → the finish; [DONE] last", () => {
    const { out, events } = run(TEXT_STREAM);
    const chunk = (delta: unknown, finish: string | null = null) => ({
      id: "msg_01XY",
      object: "chat.completion.chunk",
      created: 1700000000,
      model: "client-model",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    expect(events).toEqual([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hello" }),
      chunk({ content: ", wörld 👋" }),
      chunk({}, "stop"),
      "[DONE]",
    ]);
    expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  test("no usage chunk unless the client asked for it; usage() either way", () => {
    const without = run(TEXT_STREAM);
    expect(without.events.some((event) => event.usage)).toBe(false);
    expect(without.translator.usage()).toEqual({ promptTokens: 25, completionTokens: 12, totalTokens: 37 });

    const withUsage = run(TEXT_STREAM, { includeUsage: true });
    expect(withUsage.events.at(-2)).toEqual({
      id: "msg_01XY",
      object: "chat.completion.chunk",
      created: 1700000000,
      model: "client-model",
      choices: [],
      usage: { prompt_tokens: 25, completion_tokens: 12, total_tokens: 37, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(withUsage.events.at(-1)).toBe("[DONE]");
  });

  test("usage: cache reads and writes count as prompt tokens, writes also under Anthropic's name; message_delta's cumulative counts win", () => {
    const stream = [
      start({ input_tokens: 4, cache_creation_input_tokens: 30, cache_read_input_tokens: 200, output_tokens: 1 }),
      blockStart(0, { type: "text", text: "" }),
      text(0, "ok"),
      blockStop(0),
      messageDelta("end_turn", { input_tokens: 4, cache_creation_input_tokens: 30, cache_read_input_tokens: 200, output_tokens: 9 }),
      STOP,
    ].join("");
    const { events, translator } = run(stream, { includeUsage: true });
    expect(events.at(-2).usage).toEqual({
      prompt_tokens: 234,
      completion_tokens: 9,
      total_tokens: 243,
      prompt_tokens_details: { cached_tokens: 200 },
      cache_creation_input_tokens: 30,
    });
    expect(translator.usage()).toEqual({ promptTokens: 234, completionTokens: 9, totalTokens: 243, cachedPromptTokens: 200, cacheWritePromptTokens: 30 });
    expect(translator.openAIUsage()?.prompt_tokens_details.cached_tokens).toBe(200);
  });

  test("a message_delta with null cache counts keeps message_start's", () => {
    const stream = [
      start({ input_tokens: 4, cache_read_input_tokens: 50, output_tokens: 1 }),
      messageDelta("end_turn", { output_tokens: 3, cache_read_input_tokens: null }),
      STOP,
    ].join("");
    expect(run(stream).translator.usage()).toEqual({ promptTokens: 54, completionTokens: 3, totalTokens: 57, cachedPromptTokens: 50 });
  });

  test("the id and model are the caller's when given", () => {
    const { events } = run(TEXT_STREAM, { id: "chatcmpl-proxy", model: "alias" });
    expect(events[0]).toMatchObject({ id: "chatcmpl-proxy", model: "alias" });
  });

  test("every stop_reason has its finish_reason", () => {
    const cases = { end_turn: "stop", stop_sequence: "stop", max_tokens: "length", refusal: "content_filter", pause_turn: "stop" };
    for (const [stop, finish] of Object.entries(cases)) {
      const { events, translator } = run([start(), blockStart(0, { type: "text", text: "" }), text(0, "x"), blockStop(0), messageDelta(stop), STOP].join(""));
      expect(finishes(events)).toEqual([finish]);
      expect(translator.finishReason()).toBe(finish as "stop");
    }
  });

  test("pings and unknown events are dropped; comments and CRLF line ends are read", () => {
    const noisy = [
      start(),
      PING,
      ": a comment\n\n",
      ev("brand_new_event", { x: 1 }),
      blockStart(0, { type: "text", text: "" }),
      text(0, "Hi"),
      PING,
      blockStop(0),
      messageDelta("end_turn"),
      STOP,
    ].join("");
    expect(run(noisy).out).toBe(
      run([start(), blockStart(0, { type: "text", text: "" }), text(0, "Hi"), blockStop(0), messageDelta("end_turn"), STOP].join("")).out,
    );
    expect(run(TEXT_STREAM.replace(/\n/g, "\r\n")).out).toBe(run(TEXT_STREAM).out);
  });
});

describe("tool calls", () => {
  test("two parallel tool calls with interleaved deltas: each its own index (counting tools, not blocks), id and name first", () => {
    const stream = [
      start(),
      blockStart(0, { type: "text", text: "" }),
      text(0, "Checking both."),
      blockStop(0),
      blockStart(1, { type: "tool_use", id: "toolu_A", name: "get_weather", input: {} }),
      json(1, ""),
      blockStart(2, { type: "tool_use", id: "toolu_B", name: "get_time", input: {} }),
      json(1, '{"city":'),
      json(2, '{"tz":"Europe/'),
      json(1, ' "Oslo"}'),
      json(2, 'Rome"}'),
      blockStop(2),
      blockStop(1),
      messageDelta("tool_use"),
      STOP,
    ].join("");
    const { events, translator } = run(stream);
    const calls = deltas(events)
      .filter((delta) => delta.tool_calls)
      .map((delta) => delta.tool_calls[0]);
    expect(calls[0]).toEqual({ index: 0, id: "toolu_A", type: "function", function: { name: "get_weather", arguments: "" } });
    expect(calls[1]).toEqual({ index: 1, id: "toolu_B", type: "function", function: { name: "get_time", arguments: "" } });
    const args = (index: number) =>
      calls
        .filter((call) => call.index === index && !call.id)
        .map((call) => call.function.arguments)
        .join("");
    expect(JSON.parse(args(0))).toEqual({ city: "Oslo" });
    expect(JSON.parse(args(1))).toEqual({ tz: "Europe/Rome" });
    expect(calls.every((call) => call.function.arguments !== "" || call.id)).toBe(true); // no empty argument pieces
    expect(finishes(events)).toEqual(["tool_calls"]);
    expect(translator.thinking()).toBeNull(); // tools without thinking: nothing to keep
  });

  test("a tool with no input ends with arguments {} (an empty delta, or none at all)", () => {
    for (const body of [[json(0, "")], []]) {
      const stream = [
        start(),
        blockStart(0, { type: "tool_use", id: "toolu_N", name: "now", input: {} }),
        ...body,
        blockStop(0),
        messageDelta("tool_use"),
        STOP,
      ].join("");
      const calls = deltas(run(stream).events)
        .filter((delta) => delta.tool_calls)
        .map((delta) => delta.tool_calls[0]);
      expect(calls).toEqual([
        { index: 0, id: "toolu_N", type: "function", function: { name: "now", arguments: "" } },
        { index: 0, function: { arguments: "{}" } },
      ]);
    }
  });

  test("an input given whole in content_block_start (no deltas) is sent as the arguments", () => {
    const stream = [
      start(),
      blockStart(0, { type: "tool_use", id: "toolu_W", name: "get_weather", input: { city: "Oslo" } }),
      blockStop(0),
      messageDelta("tool_use"),
      STOP,
    ].join("");
    const calls = deltas(run(stream).events)
      .filter((delta) => delta.tool_calls)
      .map((delta) => delta.tool_calls[0]);
    expect(calls[1]).toEqual({ index: 0, function: { arguments: '{"city":"Oslo"}' } });
  });

  test("a turn that called a tool finishes with tool_calls even if its stop_reason says end_turn", () => {
    const stream = [start(), blockStart(0, { type: "tool_use", id: "toolu_X", name: "now", input: {} }), blockStop(0), messageDelta("end_turn"), STOP].join("");
    expect(finishes(run(stream).events)).toEqual(["tool_calls"]);
  });

  test("max_tokens during a tool call finishes with length, and the open call is closed first", () => {
    const stream = [start(), blockStart(0, { type: "tool_use", id: "toolu_L", name: "now", input: {} }), messageDelta("max_tokens"), STOP].join("");
    const { events } = run(stream);
    expect(deltas(events).at(-2)).toEqual({ tool_calls: [{ index: 0, function: { arguments: "{}" } }] });
    expect(finishes(events)).toEqual(["length"]);
  });
});

describe("thinking", () => {
  const THINKING_TOOL = [
    start(),
    blockStart(0, { type: "thinking", thinking: "", signature: "" }),
    delta(0, { type: "thinking_delta", thinking: "The user wants " }),
    delta(0, { type: "thinking_delta", thinking: "the weather." }),
    delta(0, { type: "signature_delta", signature: "EqQBCkgIARABGAIiQL2" }),
    blockStop(0),
    blockStart(1, { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" }),
    blockStop(1),
    blockStart(2, { type: "tool_use", id: "toolu_T", name: "get_weather", input: {} }),
    json(2, ""),
    json(2, '{"city": "Oslo"}'),
    blockStop(2),
    messageDelta("tool_use"),
    STOP,
  ].join("");

  test("thinking_delta → reasoning_content; signatures kept for the caller under the tool ids", () => {
    const { events, translator } = run(THINKING_TOOL);
    expect(deltas(events).filter((delta) => "reasoning_content" in delta)).toEqual([
      { reasoning_content: "The user wants " },
      { reasoning_content: "the weather." },
    ]);
    expect(JSON.stringify(events)).not.toContain("EqQB"); // signatures never reach the client
    expect(translator.thinking()).toEqual({
      toolCallIds: ["toolu_T"],
      blocks: [
        { type: "thinking", thinking: "The user wants the weather.", signature: "EqQBCkgIARABGAIiQL2" },
        { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" },
      ],
    });
    expect(finishes(events)).toEqual(["tool_calls"]);
  });

  test("thinking without tool calls: shown, not kept", () => {
    const stream = [
      start(),
      blockStart(0, { type: "thinking", thinking: "" }),
      delta(0, { type: "thinking_delta", thinking: "Easy." }),
      delta(0, { type: "signature_delta", signature: "s" }),
      blockStop(0),
      blockStart(1, { type: "text", text: "" }),
      text(1, "4"),
      blockStop(1),
      messageDelta("end_turn"),
      STOP,
    ].join("");
    const { events, translator } = run(stream);
    expect(deltas(events).slice(1, 3)).toEqual([{ reasoning_content: "Easy." }, { content: "4" }]);
    expect(translator.thinking()).toBeNull();
  });
});

describe("errors and ends", () => {
  test("an error event after content → the proxy's in-stream error event, then the end (no [DONE])", () => {
    const stream = [
      start(),
      blockStart(0, { type: "text", text: "" }),
      text(0, "Hel"),
      'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
      text(0, "ignored"),
      STOP,
    ].join("");
    const { events, out, translator } = run(stream);
    expect(events.at(-1)).toEqual({ error: { message: "Overloaded", type: "api_error", param: null, code: "overloaded" } });
    expect(events).toHaveLength(3);
    expect(out).not.toContain("[DONE]");
    expect(out).not.toContain("ignored");
    expect(translator.failure()?.status).toBe(503);
  });

  test("an error event before anything else is the whole stream", () => {
    const { events } = run('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal server error"}}\n\n');
    expect(events).toEqual([{ error: { message: "Internal server error", type: "api_error", param: null, code: null } }]);
  });

  test("a stream cut before message_stop ends with an error event, not a [DONE] that would call it complete", () => {
    const { events, translator } = run([start(), blockStart(0, { type: "text", text: "" }), text(0, "Hel")].join(""));
    expect(events.at(-1)).toEqual({
      error: { message: "The Anthropic backend's stream ended before the answer was complete", type: "upstream_error", param: null, code: "stream_truncated" },
    });
    expect(translator.failure()?.code).toBe("stream_truncated");
  });

  test("a last event without its blank line is still read", () => {
    expect(run(TEXT_STREAM.slice(0, -2)).out).toBe(run(TEXT_STREAM).out);
  });

  test("content before message_start still comes after a role chunk", () => {
    const { events } = run([blockStart(0, { type: "text", text: "" }), text(0, "Hi"), blockStop(0), messageDelta("end_turn"), STOP].join(""));
    expect(deltas(events)[0]).toEqual({ role: "assistant", content: "" });
    expect(events[0].id).toBe("chatcmpl-anthropic");
  });

  test("after the end, nothing more comes out", () => {
    const translator = new MessagesStreamTranslator(OPTS);
    translator.push(encoder.encode(TEXT_STREAM));
    expect(translator.push(encoder.encode(TEXT_STREAM)).byteLength).toBe(0);
    expect(translator.end().byteLength).toBe(0);
  });
});

describe("the output does not depend on how the input was cut", () => {
  /** A recorded stream with every kind of event, multi-byte characters and a ping. */
  const RECORDED = [
    start({ input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048, output_tokens: 1 }),
    blockStart(0, { type: "thinking", thinking: "", signature: "" }),
    delta(0, { type: "thinking_delta", thinking: "Zwei Städte — " }),
    delta(0, { type: "thinking_delta", thinking: "两个城市 🌦" }),
    delta(0, { type: "signature_delta", signature: "EqQBCkgIARAB" }),
    blockStop(0),
    PING,
    blockStart(1, { type: "text", text: "" }),
    text(1, "Ich prüfe "),
    text(1, "beide…"),
    blockStop(1),
    blockStart(2, { type: "tool_use", id: "toolu_01A", name: "get_weather", input: {} }),
    json(2, ""),
    json(2, '{"city": "Zür'),
    json(2, 'ich"}'),
    blockStop(2),
    blockStart(3, { type: "tool_use", id: "toolu_01B", name: "now", input: {} }),
    json(3, ""),
    blockStop(3),
    messageDelta("tool_use", { output_tokens: 88 }),
    STOP,
  ].join("");
  const bytes = encoder.encode(RECORDED);
  const whole = run(bytes, { includeUsage: true });

  test("the recorded stream translates as expected", () => {
    expect(whole.events.at(-1)).toBe("[DONE]");
    expect(whole.events.at(-2).usage.prompt_tokens_details.cached_tokens).toBe(2048);
    expect(
      deltas(whole.events)
        .filter((delta) => delta.reasoning_content)
        .map((delta) => delta.reasoning_content)
        .join(""),
    ).toBe("Zwei Städte — 两个城市 🌦");
    expect(
      deltas(whole.events)
        .filter((delta) => delta.content)
        .map((delta) => delta.content)
        .join(""),
    ).toBe("Ich prüfe beide…");
  });

  test("split in two at every byte boundary: the same bytes out", () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const translator = new MessagesStreamTranslator({ ...OPTS, includeUsage: true });
      const out = Buffer.concat([translator.push(bytes.subarray(0, cut)), translator.push(bytes.subarray(cut)), translator.end()]);
      if (decoder.decode(out) !== whole.out) expect({ cut, out: decoder.decode(out) }).toEqual({ cut, out: whole.out });
      expect(translator.thinking()).toEqual(whole.translator.thinking());
    }
  });

  test("one byte at a time, and in pieces of 2, 3, 7 and 64 bytes: the same bytes out", () => {
    for (const size of [1, 2, 3, 7, 64]) expect(run(bytes, { includeUsage: true }, size).out).toBe(whole.out);
  });

  test("the same with CRLF line ends cut between CR and LF", () => {
    const crlf = encoder.encode(RECORDED.replace(/\n/g, "\r\n"));
    for (const size of [1, 5, 13]) expect(run(crlf, { includeUsage: true }, size).out).toBe(whole.out);
  });
});
