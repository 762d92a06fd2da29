import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { decodedBody } from "./content-encoding";

const plain = new TextEncoder().encode(JSON.stringify({ usage: { prompt_tokens: 3, completion_tokens: 4 }, pad: "x".repeat(2000) }));
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

describe("decodedBody", () => {
  test.each([
    ["gzip", gzipSync(plain)],
    ["x-gzip", gzipSync(plain)],
    ["GZIP", gzipSync(plain)],
    ["deflate", deflateSync(plain)],
    ["deflate", deflateRawSync(plain)],
    ["br", brotliCompressSync(plain)],
    ["zstd", zstdCompressSync(plain)],
  ])("undoes %s", (coding, bytes) => {
    expect(text(decodedBody(bytes, coding))).toBe(text(plain));
  });

  test("a list is undone from the last coding applied", () => {
    expect(text(decodedBody(brotliCompressSync(gzipSync(plain)), "gzip, br"))).toBe(text(plain));
  });

  test("identity and an empty list leave the bytes as they are", () => {
    expect(decodedBody(plain, "identity")).toBe(plain);
    expect(decodedBody(plain, " ")).toBe(plain);
  });

  test("an unknown coding, bytes that do not decode, or a copy over the limit give null", () => {
    expect(decodedBody(gzipSync(plain), "compress")).toBeNull();
    expect(decodedBody(plain, "gzip")).toBeNull();
    expect(decodedBody(gzipSync(plain), "gzip", plain.byteLength - 1)).toBeNull();
    expect(decodedBody(gzipSync(plain), "gzip", plain.byteLength)).not.toBeNull();
  });
});
