import { describe, expect, test } from "bun:test";
import { StreamUsage } from "./stream-usage";
import { lastUsageIn, usageOf, usageOfBody } from "./usage";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const chunk = (content: string, usageNull = false) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}]${usageNull ? ',"usage":null' : ""}}\n\n`;
const FINISH = 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
const USAGE_ONLY = 'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n';
const DONE = "data: [DONE]\n\n";

/** Feeds `text` in pieces of `size` bytes and returns what passed on, and the usage found. */
function run(text: string, strip: boolean, size: number) {
  const scanner = new StreamUsage(strip);
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(scanner.pass(bytes.subarray(i, i + size)));
  const rest = scanner.flush();
  if (rest) out.push(rest);
  return { text: decoder.decode(Buffer.concat(out)), usage: scanner.usage() };
}

describe("StreamUsage", () => {
  const withUsage = chunk("Hel") + chunk("lo") + FINISH + USAGE_ONLY + DONE;
  const withoutUsage = chunk("Hel") + chunk("lo") + FINISH + DONE;

  for (const size of [1, 7, 64, 10_000]) {
    test(`strip: the client's stream equals the stream without usage, byte for byte (pieces of ${size})`, () => {
      const result = run(withUsage, true, size);
      expect(result.text).toBe(withoutUsage);
      expect(result.usage).toEqual({ promptTokens: 11, completionTokens: 7, totalTokens: 18 });
    });

    test(`pass-through: every byte unchanged, usage read from the tail (pieces of ${size})`, () => {
      const result = run(withUsage, false, size);
      expect(result.text).toBe(withUsage);
      expect(result.usage).toEqual({ promptTokens: 11, completionTokens: 7, totalTokens: 18 });
    });
  }

  test("strip: a finish_reason split anywhere between two long chunks is still seen", () => {
    const long = chunk("x".repeat(100));
    const stream = encoder.encode(long + FINISH + USAGE_ONLY + DONE);
    const marker = long.length + FINISH.indexOf('"finish_reason"');
    for (let split = marker - 40; split <= marker + 40; split++) {
      const scanner = new StreamUsage(true);
      const out = [scanner.pass(stream.subarray(0, split)), scanner.pass(stream.subarray(split)), scanner.flush() ?? new Uint8Array(0)];
      expect({ split, text: decoder.decode(Buffer.concat(out)) }).toEqual({ split, text: long + FINISH + DONE });
    }
  });

  test("a stream's usage chunk carries its cached prompt tokens, stripped or passed through", () => {
    const cachedUsage =
      'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":8}}}\n\n';
    for (const strip of [true, false]) {
      expect(run(chunk("a") + FINISH + cachedUsage + DONE, strip, 7).usage).toEqual({
        promptTokens: 11,
        completionTokens: 7,
        totalTokens: 18,
        cachedPromptTokens: 8,
      });
    }
  });

  test("CRLF line ends, comments and `usage: null` chunks are left alone", () => {
    const crlf = (text: string) => text.replace(/\n/g, "\r\n");
    const stream = ": keep-alive\r\n\r\n" + crlf(chunk("a", true)) + crlf(FINISH) + crlf(USAGE_ONLY) + crlf(DONE);
    const result = run(stream, true, 5);
    expect(result.text).toBe(": keep-alive\r\n\r\n" + crlf(chunk("a", true)) + crlf(FINISH) + crlf(DONE));
    expect(result.usage?.totalTokens).toBe(18);
  });

  test("an unterminated last event is passed on at the end", () => {
    const result = run(FINISH + 'data: {"partial":', true, 3);
    expect(result.text).toBe(FINISH + 'data: {"partial":');
    expect(result.usage).toBeNull();
  });

  test("strip: a usage chunk left unterminated at the end (no blank line, no [DONE]) is read and taken out", () => {
    for (const size of [1, 7, 10_000]) {
      const result = run(chunk("Hel") + FINISH + USAGE_ONLY.trimEnd(), true, size);
      expect(result.text).toBe(chunk("Hel") + FINISH);
      expect(result.usage).toEqual({ promptTokens: 11, completionTokens: 7, totalTokens: 18 });
    }
  });

  test("strip: content is passed on at once, before its event is complete", () => {
    const scanner = new StreamUsage(true);
    const half = 'data: {"choices":[{"delta":{"content":"Hel';
    expect(decoder.decode(scanner.pass(encoder.encode(half)))).toBe(half);
  });

  test("a stream without usage reports none", () => {
    expect(run(withoutUsage, false, 9).usage).toBeNull();
  });
});

describe("usage in bodies", () => {
  test("chat, embeddings and the Responses API", () => {
    expect(usageOf({ usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })).toEqual({ promptTokens: 3, completionTokens: 4, totalTokens: 7 });
    expect(usageOf({ usage: { prompt_tokens: 5, total_tokens: 5 } })).toEqual({ promptTokens: 5, completionTokens: 0, totalTokens: 5 });
    expect(usageOf({ usage: { input_tokens: 9, output_tokens: 2, total_tokens: 11 } })).toEqual({ promptTokens: 9, completionTokens: 2, totalTokens: 11 });
    expect(usageOf({ type: "response.completed", response: { usage: { input_tokens: 1, output_tokens: 2 } } })).toEqual({
      promptTokens: 1,
      completionTokens: 2,
      totalTokens: 3,
    });
    expect(usageOf({ usage: null })).toBeNull();
    expect(usageOfBody(encoder.encode("not json"))).toBeNull();
  });
});

describe("lastUsageIn", () => {
  test("the last usage object, past later keys that hold none, in bytes cut anywhere", () => {
    const bytes = Buffer.from(`tent":"x"},"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\ndata: {"choices":[],"usage":null}\n\ndata: {"usage":"n/a"}`);
    expect(lastUsageIn(bytes)).toEqual({ promptTokens: 3, completionTokens: 4, totalTokens: 7 });
  });

  test("null when no usage object is there, or it is cut", () => {
    expect(lastUsageIn(Buffer.from('data: {"usage":null}\n\n'))).toBeNull();
    expect(lastUsageIn(Buffer.from('"usage":{"prompt_tokens":3,"completion'))).toBeNull();
  });
});

describe("a stream that reported no usage", () => {
  test("is charged the prompt estimate and one completion token per piece of the answer relayed", () => {
    for (const strip of [true, false]) {
      const scanner = new StreamUsage(strip);
      for (const piece of [chunk("Hel"), chunk("lo"), chunk(" there")]) scanner.pass(encoder.encode(piece));
      expect(scanner.usage()).toBeNull();
      expect(scanner.estimate(40)).toEqual({ promptTokens: 40, completionTokens: 3, totalTokens: 43 });
    }
  });

  test("a legacy completion stream's pieces (text) count the same way", () => {
    const scanner = new StreamUsage(false);
    const piece = (text: string) => `data: {"id":"c","object":"text_completion","choices":[{"text":"${text}","index":0,"finish_reason":null}]}\n\n`;
    scanner.pass(encoder.encode(piece("a") + piece("b") + piece("c")));
    expect(scanner.estimate(5)).toEqual({ promptTokens: 5, completionTokens: 3, totalTokens: 8 });
  });

  test("a Responses API stream's pieces count the same way", () => {
    const scanner = new StreamUsage(false);
    const delta = (text: string) => `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"m","delta":"${text}"}\n\n`;
    scanner.pass(encoder.encode(delta("a") + delta("b")));
    expect(scanner.estimate(5)).toEqual({ promptTokens: 5, completionTokens: 2, totalTokens: 7 });
  });
});
