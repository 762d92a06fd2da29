import { expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { secretOf, withoutSecret } from "./redact";

const KEY = "sk-backend-0123456789abcdef";
const MASKED = "sk-ba...bcdef";
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

test("every occurrence of the key is masked; a body without it is left alone (null)", () => {
  const body = new TextEncoder().encode(`{"error":{"message":"Incorrect API key provided: ${KEY}. Key ${KEY} is revoked."}}`);
  expect(text(withoutSecret(body, null, KEY))).toBe(`{"error":{"message":"Incorrect API key provided: ${MASKED}. Key ${MASKED} is revoked."}}`);
  expect(withoutSecret(new TextEncoder().encode('{"error":"no"}'), null, KEY)).toBeNull();
});

test("a compressed body is looked at decoded, and cleaned into a plain copy", () => {
  const body = gzipSync(Buffer.from(`{"error":"bad key ${KEY}"}`));
  expect(text(withoutSecret(body, "gzip", KEY))).toBe(`{"error":"bad key ${MASKED}"}`);
  expect(withoutSecret(gzipSync(Buffer.from("{}")), "gzip", KEY)).toBeNull();
});

test("a key with slashes is found where a JSON encoder escaped them too", () => {
  const key = "sk-with/slashes/0123456789";
  const body = new TextEncoder().encode(JSON.stringify({ error: `bad key ${key}` }).replace(/\//g, "\\/"));
  const cleaned = text(withoutSecret(body, null, key))!;
  expect(cleaned).not.toContain("0123456789");
  expect(cleaned).toContain("sk-wi...56789");
});

test("short keys and no key: nothing to look for", () => {
  expect([secretOf(null), secretOf(undefined), secretOf("test"), secretOf(KEY)]).toEqual([null, null, null, KEY]);
});
