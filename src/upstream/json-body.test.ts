import { describe, expect, test } from "bun:test";
import { ProxyError } from "../model/errors";
import { readJson, readJsonObject } from "./json-body";

const LIMIT = 1024;

/** A body with its Content-Length declared, as HTTP clients send it (a Request built in-process has none). */
const post = (body: string) => new Request("http://proxy/v1/x", { method: "POST", headers: { "content-length": String(Buffer.byteLength(body)) }, body });

/** A body with no Content-Length (chunked), read through the bounded reader. */
const streamed = (body: string) => new Request("http://proxy/v1/x", { method: "POST", body: new Blob([body]).stream(), duplex: "half" } as RequestInit);

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProxyError);
  const { status, code } = error as ProxyError;
  return { status, code };
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

describe("readJson", () => {
  test("parses a body, declared length or not", async () => {
    expect(await readJson(post('{"model":"gpt","n":[1,2]}'), LIMIT)).toEqual({ model: "gpt", n: [1, 2] });
    expect(await readJson(streamed('{"model":"gpt"}'), LIMIT)).toEqual({ model: "gpt" });
  });

  test("nesting up to 128 levels is fine, 129 is a 400 before parsing", async () => {
    expect(await readJson(post(nested(128)), LIMIT)).toBeArray();
    expect(await failure(readJson(post(nested(129)), LIMIT))).toEqual({ status: 400, code: "json_too_deep" });
  });

  test("brackets and escaped quotes inside strings do not count as nesting", async () => {
    const text = JSON.stringify({ s: `\\"${"[".repeat(200)}` });
    expect(await readJson(post(text), LIMIT)).toEqual(JSON.parse(text));
  });

  test("a body that is not JSON is a 400 invalid_json", async () => {
    expect(await failure(readJson(post("{nope"), LIMIT))).toEqual({ status: 400, code: "invalid_json" });
  });

  test("a body over the limit is a 413, declared or streamed", async () => {
    const big = JSON.stringify({ input: "x".repeat(LIMIT) });
    expect(await failure(readJson(post(big), LIMIT))).toEqual({ status: 413, code: "payload_too_large" });
    expect(await failure(readJson(streamed(big), LIMIT))).toEqual({ status: 413, code: "payload_too_large" });
  });
});

describe("readJsonObject", () => {
  test("an object is returned; an array, a string or null is a 400 invalid_body", async () => {
    expect(await readJsonObject(post('{"a":1}'), LIMIT)).toEqual({ a: 1 });
    for (const body of ["[1]", '"text"', "null", "3"]) {
      expect(await failure(readJsonObject(post(body), LIMIT))).toEqual({ status: 400, code: "invalid_body" });
    }
  });
});
