//  Client-side helpers: requests to the proxy and exact assertions on what came back.
import { expect } from "bun:test";
import { within } from "./events";
import { CLIENT_KEY } from "./proxy";

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

export const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content: "Hi" }],
  ...extra,
});

export interface ExpectedError {
  type?: string;
  code?: string | null;
  param?: string | null;
  /** Substrings the message must contain. */
  messageIncludes?: string[];
}

/** Asserts an OpenAI-shaped error body `{"error":{"message","type","param","code"}}` and returns it. */
export async function expectOpenAIError(response: Response, status: number, expected: ExpectedError = {}) {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status });
  expect(response.headers.get("content-type") ?? "").toContain("application/json");
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  if (expected.type !== undefined) expect(body.error.type).toBe(expected.type);
  if (expected.code !== undefined) expect(body.error.code).toBe(expected.code);
  if (expected.param !== undefined) expect(body.error.param).toBe(expected.param);
  for (const part of expected.messageIncludes ?? []) expect(body.error.message).toContain(part);
  return body.error as { message: string; type: string; param: string | null; code: string | null };
}

const decoder = new TextDecoder();

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** What `drain` uses of a body reader (Bun's and undici's reader types differ in the rest). */
type BodyReader = Pick<ReadableStreamDefaultReader<Uint8Array>, "read" | "cancel">;

/** Reads `reader` to its end; fails if nothing arrives for `idleLimitMs`. */
async function drain(reader: BodyReader, onChunk: (chunk: Uint8Array, index: number) => void, idleLimitMs: number) {
  const chunks: Uint8Array[] = [];
  for (;;) {
    try {
      const { done, value } = await within(reader.read(), idleLimitMs, "the next chunk of the response body");
      if (done) break;
      onChunk(value, chunks.length);
      chunks.push(value);
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    }
  }
  const bytes = concat(chunks);
  return { bytes, text: decoder.decode(bytes), chunks };
}

/**
 * Reads a response body to its end, calling `onChunk` for every chunk as it arrives. Bounded: a
 * body that neither ends nor sends anything for `idleLimitMs` fails the read.
 */
export function readBody(response: Response, onChunk: (chunk: Uint8Array, index: number) => void = () => {}, idleLimitMs = 5000) {
  return drain(response.body!.getReader(), onChunk, idleLimitMs);
}

/** Reads until one chunk arrived; `rest()` reads the remainder, `reader` allows an abort in between. */
export async function readFirstChunk(response: Response, ms = 5000) {
  const reader = response.body!.getReader();
  const first = await within(reader.read(), ms, "the first chunk of the response body");
  return { reader, first, rest: (idleLimitMs = 5000) => drain(reader, () => {}, idleLimitMs) };
}
