import { describe, expect, test } from "bun:test";
import { SseReader } from "./sse";
import { GeminiStreamTranslator, type StreamOptions } from "./stream";
import { signatureOf } from "./tool-call-id";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const counter = () => {
  let n = 0;
  return () => `n${++n}`;
};
const translator = (options: Partial<StreamOptions> = {}) =>
  new GeminiStreamTranslator({ model: "gemini-3-flash", created: 1700000000, nonce: counter(), includeUsage: false, ...options });

/** Gemini's framing: one `data:` line per event, CRLF CRLF after it. */
const event = (value: unknown) => `data: ${JSON.stringify(value)}\r\n\r\n`;

/** The `data` payloads of OpenAI SSE text, JSON-parsed except `[DONE]`. */
function payloads(text: string): unknown[] {
  expect(text === "" || text.endsWith("\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((block) => {
      expect(block.startsWith("data: ")).toBe(true);
      const data = block.slice(6);
      return data === "[DONE]" ? "[DONE]" : JSON.parse(data);
    });
}

const push = (t: GeminiStreamTranslator, text: string) => payloads(decoder.decode(t.push(encoder.encode(text))));
const end = (t: GeminiStreamTranslator) => payloads(decoder.decode(t.end()));

/** A chunk as the translator writes it: only `choices` varies. */
const chunk = (id: string, choices: unknown[], extra: object = {}) => ({
  id,
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "gemini-3-flash",
  choices,
  ...extra,
});
const choice = (delta: object, finish: string | null = null, index = 0) => ({ index, delta, finish_reason: finish });

const usage = (prompt: number, candidates: number, thoughts?: number, cached?: number) => ({
  promptTokenCount: prompt,
  candidatesTokenCount: candidates,
  ...(thoughts !== undefined ? { thoughtsTokenCount: thoughts } : {}),
  ...(cached !== undefined ? { cachedContentTokenCount: cached } : {}),
  totalTokenCount: prompt + candidates + (thoughts ?? 0),
});
const text = (value: string, extra: object = {}, meta = usage(8, 3)) => ({
  candidates: [{ content: { parts: [{ text: value }], role: "model" }, index: 0, ...extra }],
  usageMetadata: meta,
  modelVersion: "gemini-3-flash",
  responseId: "resp1",
});

describe("GeminiStreamTranslator, event by event", () => {
  test("text: the first chunk has the role, each event its delta, the finish its own chunk, [DONE] at the end", () => {
    const t = translator();
    expect(push(t, event(text("Hel")))).toEqual([chunk("chatcmpl-resp1", [choice({ role: "assistant", content: "Hel" })])]);
    expect(push(t, event(text("lo")))).toEqual([chunk("chatcmpl-resp1", [choice({ content: "lo" })])]);
    expect(push(t, event(text("!", { finishReason: "STOP" }, usage(8, 5))))).toEqual([
      chunk("chatcmpl-resp1", [choice({ content: "!" })]),
      chunk("chatcmpl-resp1", [choice({}, "stop")]),
    ]);
    expect(end(t)).toEqual(["[DONE]"]);
    // Without include_usage no usage chunk went out, but the proxy still reads it.
    expect(t.usage()).toEqual({ promptTokens: 8, completionTokens: 5, totalTokens: 13 });
  });

  test("include_usage: one usage-only chunk from the LAST usageMetadata, before [DONE]", () => {
    const t = translator({ includeUsage: true });
    push(t, event(text("a", {}, usage(50, 1, 20, 40))));
    push(t, event(text("b", { finishReason: "STOP" }, usage(50, 2, 20, 40))));
    expect(end(t)).toEqual([
      chunk("chatcmpl-resp1", [], {
        usage: {
          prompt_tokens: 50,
          completion_tokens: 22,
          total_tokens: 72,
          prompt_tokens_details: { cached_tokens: 40 },
          completion_tokens_details: { reasoning_tokens: 20 },
        },
      }),
      "[DONE]",
    ]);
    expect(t.usage()).toEqual({ promptTokens: 50, completionTokens: 22, totalTokens: 72, cachedPromptTokens: 40 });
  });

  test("thought parts → delta.reasoning_content; an empty part with only a signature → nothing", () => {
    const t = translator();
    const thought = { candidates: [{ content: { parts: [{ text: "**Thinking**", thought: true }], role: "model" }, index: 0 }], responseId: "r" };
    expect(push(t, event(thought))).toEqual([chunk("chatcmpl-r", [choice({ role: "assistant", reasoning_content: "**Thinking**" })])]);
    const signatureOnly = { candidates: [{ content: { parts: [{ text: "", thoughtSignature: "QUJD" }], role: "model" }, index: 0 }] };
    expect(push(t, event(signatureOnly))).toEqual([]);
  });

  test("a function call, then STOP in a LATER event (Gemini 3): the finish is still tool_calls", () => {
    const t = translator();
    const callEvent = {
      candidates: [
        {
          content: { parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "c2lnbmF0dXJl" }], role: "model" },
          index: 0,
        },
      ],
      usageMetadata: usage(30, 10, 12),
      responseId: "fc",
    };
    const [callChunk] = push(t, event(callEvent)) as any[];
    expect(callChunk).toEqual(
      chunk("chatcmpl-fc", [
        choice({
          role: "assistant",
          tool_calls: [{ index: 0, id: "call_n1__ts_c2lnbmF0dXJl", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
        }),
      ]),
    );
    expect(signatureOf(callChunk!.choices[0]!.delta.tool_calls[0]!.id)).toBe("c2lnbmF0dXJl");
    const lateStop = { candidates: [{ content: { parts: [{ text: "" }], role: "model" }, finishReason: "STOP", index: 0 }], usageMetadata: usage(30, 10, 12) };
    expect(push(t, event(lateStop))).toEqual([chunk("chatcmpl-fc", [choice({}, "tool_calls")])]);
    expect(end(t)).toEqual(["[DONE]"]);
  });

  test("parallel calls get their own index and id; a call without args has arguments {}", () => {
    const t = translator();
    const calls = {
      candidates: [
        {
          content: { parts: [{ functionCall: { name: "a", args: { x: 1 } }, thoughtSignature: "QUJD" }, { functionCall: { name: "b" } }] },
          finishReason: "STOP",
        },
      ],
    };
    expect(push(t, event(calls))).toEqual([
      chunk("chatcmpl-n1", [
        choice({ role: "assistant", tool_calls: [{ index: 0, id: "call_n2__ts_QUJD", type: "function", function: { name: "a", arguments: '{"x":1}' } }] }),
      ]),
      chunk("chatcmpl-n1", [choice({ tool_calls: [{ index: 1, id: "call_n3", type: "function", function: { name: "b", arguments: "{}" } }] })]),
      chunk("chatcmpl-n1", [choice({}, "tool_calls")]),
    ]);
  });

  test("a blocked prompt → one content_filter chunk, then [DONE]", () => {
    const t = translator({ includeUsage: true });
    const blocked = {
      promptFeedback: { blockReason: "SAFETY", safetyRatings: [] },
      usageMetadata: { promptTokenCount: 7, totalTokenCount: 7 },
      responseId: "blk",
    };
    expect(push(t, event(blocked))).toEqual([chunk("chatcmpl-blk", [choice({ role: "assistant", content: "" }, "content_filter")])]);
    expect(end(t)).toEqual([
      chunk("chatcmpl-blk", [], {
        usage: {
          prompt_tokens: 7,
          completion_tokens: 0,
          total_tokens: 7,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      }),
      "[DONE]",
    ]);
  });

  test("MAX_TOKENS → length; SAFETY mid-answer → content_filter; nothing after a choice finished", () => {
    const t = translator();
    push(t, event(text("cut", { finishReason: "MAX_TOKENS" })));
    expect(push(t, event(text("late")))).toEqual([]);
    const safety = translator();
    expect(push(safety, event(text("", { finishReason: "SAFETY" })))).toEqual([
      chunk("chatcmpl-resp1", [choice({ role: "assistant", content: "" }, "content_filter")]),
    ]);
  });

  test("several candidates stream as choices by index", () => {
    const t = translator();
    const both = {
      candidates: [
        { content: { parts: [{ text: "a" }] }, index: 0 },
        { content: { parts: [{ text: "b" }] }, index: 1, finishReason: "STOP" },
      ],
      responseId: "n",
    };
    expect(push(t, event(both))).toEqual([
      chunk("chatcmpl-n", [choice({ role: "assistant", content: "a" })]),
      chunk("chatcmpl-n", [choice({ role: "assistant", content: "b" }, null, 1)]),
      chunk("chatcmpl-n", [choice({}, "stop", 1)]),
    ]);
    // Choice 0 never got a finishReason: the end still finishes it.
    expect(end(t)).toEqual([chunk("chatcmpl-n", [choice({}, "stop")]), "[DONE]"]);
  });

  test("an error event after the 200 → OpenAI's in-stream error, and nothing after it", () => {
    const t = translator({ includeUsage: true });
    push(t, event(text("par")));
    expect(push(t, event({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }) + event(text("more")))).toEqual([
      { error: { message: "The model is overloaded.", type: "api_error", param: null, code: "unavailable" } },
    ]);
    expect(end(t)).toEqual([]);
  });

  test("an unterminated last event is read at the end; comments and other fields are ignored", () => {
    const t = translator();
    expect(push(t, ": keep-alive\r\n\r\nevent: message\r\nid: 1\r\n" + `data: ${JSON.stringify(text("x", { finishReason: "STOP" }))}`)).toEqual([]);
    expect(end(t)).toEqual([chunk("chatcmpl-resp1", [choice({ role: "assistant", content: "x" })]), chunk("chatcmpl-resp1", [choice({}, "stop")]), "[DONE]"]);
  });

  test("an empty body ends with [DONE] only; end() is idempotent; pass/flush are push/end", () => {
    const t = translator();
    expect(decoder.decode(t.flush()!)).toBe("data: [DONE]\n\n");
    expect(t.flush()).toBeNull();
    expect(t.end().length).toBe(0);
    expect(t.usage()).toBeNull();
    const u = translator();
    expect(decoder.decode(u.pass(encoder.encode(event(text("a")))))).toContain('"content":"a"');
  });
});

describe("GeminiStreamTranslator, split anywhere", () => {
  // A recorded-shape Gemini 3 turn: thoughts, text with multi-byte characters, a signed call, STOP
  // after the call in its own event, usage growing on every event.
  const RECORDED =
    event({
      candidates: [{ content: { parts: [{ text: "Plan: look up the weather ☀️", thought: true }], role: "model" }, index: 0 }],
      usageMetadata: usage(40, 0, 15, 32),
      responseId: "rec",
    }) +
    event({
      candidates: [{ content: { parts: [{ text: "Je vérifie la météo à Zürich…" }], role: "model" }, index: 0 }],
      usageMetadata: usage(40, 9, 15, 32),
      responseId: "rec",
    }) +
    event({
      candidates: [
        {
          content: {
            parts: [{ functionCall: { name: "get_weather", args: { city: "Zürich", days: 2 } }, thoughtSignature: "EjQKMgFyyNp8+/abcQ==" }],
            role: "model",
          },
          index: 0,
        },
      ],
      usageMetadata: usage(40, 21, 15, 32),
      responseId: "rec",
    }) +
    event({
      candidates: [{ content: { parts: [{ text: "" }], role: "model" }, finishReason: "STOP", index: 0 }],
      usageMetadata: usage(40, 21, 15, 32),
      responseId: "rec",
    });
  const bytes = encoder.encode(RECORDED);

  function run(pieces: Uint8Array[]): { text: string; usage: unknown } {
    const t = translator({ includeUsage: true });
    const out = pieces.map((piece) => decoder.decode(t.push(piece))).join("") + decoder.decode(t.end());
    return { text: out, usage: t.usage() };
  }

  const whole = run([bytes]);

  test("the recorded stream, whole", () => {
    const chunks = payloads(whole.text) as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[] }[];
    expect(
      chunks.map((c) => (c === ("[DONE]" as unknown) ? "[DONE]" : c.choices.length === 0 ? "usage" : [c.choices[0]!.delta, c.choices[0]!.finish_reason])),
    ).toEqual([
      [{ role: "assistant", reasoning_content: "Plan: look up the weather ☀️" }, null],
      [{ content: "Je vérifie la météo à Zürich…" }, null],
      [
        {
          tool_calls: [
            { index: 0, id: "call_n1__ts_EjQKMgFyyNp8-_abcQ", type: "function", function: { name: "get_weather", arguments: '{"city":"Zürich","days":2}' } },
          ],
        },
        null,
      ],
      [{}, "tool_calls"],
      "usage",
      "[DONE]",
    ]);
    expect(signatureOf("call_n1__ts_EjQKMgFyyNp8-_abcQ")).toBe("EjQKMgFyyNp8+/abcQ==");
    expect(whole.usage).toEqual({ promptTokens: 40, completionTokens: 36, totalTokens: 76, cachedPromptTokens: 32 });
  });

  test("split in two at every byte boundary: the same output", () => {
    for (let at = 0; at <= bytes.length; at++) {
      const result = run([bytes.subarray(0, at), bytes.subarray(at)]);
      if (result.text !== whole.text) expect({ at, text: result.text }).toEqual({ at, text: whole.text });
      expect(result.usage).toEqual(whole.usage);
    }
  });

  test("one byte at a time, and in pieces of every size up to 64: the same output", () => {
    for (let size = 1; size <= 64; size++) {
      const pieces: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
      expect({ size, text: run(pieces).text }).toEqual({ size, text: whole.text });
    }
  });

  test("LF-only and CR-only framing read the same as CRLF", () => {
    for (const newline of ["\n", "\r"]) {
      const reframed = encoder.encode(RECORDED.replace(/\r\n/g, newline));
      expect(run([reframed]).text).toBe(whole.text);
    }
  });
});

describe("SseReader", () => {
  test("multi-line data is joined with \\n; a CR at a chunk's end waits for its LF", () => {
    const reader = new SseReader();
    expect(reader.push(encoder.encode("data: a\r"))).toEqual([]);
    expect(reader.push(encoder.encode("\ndata: b\r"))).toEqual([]);
    expect(reader.push(encoder.encode("\n\r"))).toEqual([]);
    expect(reader.push(encoder.encode("\ndata:c\n\n"))).toEqual(["a\nb", "c"]);
    expect(reader.end()).toEqual([]);
  });
});
