import { expect, test } from "bun:test";
import { upstreamPrefix } from "./url";

const CASES: [string, string][] = [
  ["http://backend:8000", "http://backend:8000/v1/"],
  ["http://backend:8000/", "http://backend:8000/v1/"],
  ["http://backend:8000//", "http://backend:8000/v1/"],
  ["http://backend:8000/v1", "http://backend:8000/v1/"],
  ["http://backend:8000/v1/", "http://backend:8000/v1/"],
  ["https://api.example/openai", "https://api.example/openai/v1/"],
  ["https://api.example/openai/v1/", "https://api.example/openai/v1/"],
  ["  https://api.example  ", "https://api.example/v1/"],
  // only a whole `/v1` segment is dropped
  ["https://api.example/xv1", "https://api.example/xv1/v1/"],
];

for (const [url, prefix] of CASES) {
  test(`"${url}" → "${prefix}"`, () => expect(upstreamPrefix(url)).toBe(prefix));
}
