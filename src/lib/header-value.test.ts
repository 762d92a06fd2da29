import { expect, test } from "bun:test";
import { headerValue } from "./header-value";

test("printable ASCII passes as it is; anything else (non-Latin text, control characters) is percent-encoded and valid in a header", () => {
  expect(headerValue("gpt-4o/alpha main")).toBe("gpt-4o/alpha main");
  expect(headerValue("模型")).toBe("%E6%A8%A1%E5%9E%8B");
  expect(headerValue("gpt–fast")).toBe("gpt%E2%80%93fast");
  expect(headerValue("evil\r\nset-cookie: x")).toBe("evil%0D%0Aset-cookie%3A%20x");
  for (const value of ["模型", "gpt–fast", "a\u0000b", "é"]) expect(() => new Headers({ "x-test": headerValue(value) })).not.toThrow();
});
