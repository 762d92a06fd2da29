import { describe, expect, test } from "bun:test";
import { maskAccessKey, maskBackendKey, maskUrlCredentials } from "./mask";

const KEY_40 = "0123456789abcdefghijABCDEFGHIJklmnopqrst";
const key = (length: number) => KEY_40.slice(0, length);

/** length → [backend key, client or admin key], written out so a changed rule shows here. */
const TABLE: [number, string, string][] = [
  [8, "***", "***"],
  [12, "01234...789ab", "***"],
  [20, "01234...fghij", "01...ij"],
  [40, "01234...pqrst", "01234...pqrst"],
];

describe("masking table", () => {
  for (const [length, backend, access] of TABLE) {
    test(`${length} characters: backend ${backend}, client/admin ${access}`, () => {
      expect(maskBackendKey(key(length))).toBe(backend);
      expect(maskAccessKey(key(length))).toBe(access);
    });
  }
});

describe("maskBackendKey: the original proxy's rule", () => {
  test("10 characters or fewer are hidden; from 11, first 5 + '...' + last 5", () => {
    expect(maskBackendKey(key(10))).toBe("***");
    expect(maskBackendKey(key(11))).toBe("01234...6789a");
  });
});

describe("maskAccessKey: operator-chosen keys", () => {
  test("below 16 characters nothing is shown; at 16, two characters each end", () => {
    expect(maskAccessKey(key(15))).toBe("***");
    expect(maskAccessKey(key(16))).toBe("01...ef");
  });

  test("never reveals more than a quarter of the key", () => {
    for (let length = 1; length <= 200; length++) {
      const masked = maskAccessKey("k".repeat(length));
      const revealed = masked === "***" ? 0 : masked.length - 3;
      expect({ length, revealed: revealed <= length / 4 }).toEqual({ length, revealed: true });
    }
  });
});

describe("maskUrlCredentials", () => {
  test("user and password before the host are hidden; the rest of the URL stays", () => {
    expect(maskUrlCredentials("https://user:pa55@backend.example:8443/v1?x=1")).toBe("https://***@backend.example:8443/v1?x=1");
  });

  test("a password holding a raw @ (which URL parsers accept) is hidden whole", () => {
    expect(new URL("https://user:p@ssw0rdSECRET@api.example.com/").password).toBe("p%40ssw0rdSECRET");
    expect(maskUrlCredentials("https://user:p@ssw0rdSECRET@api.example.com/v1")).toBe("https://***@api.example.com/v1");
    expect(maskUrlCredentials("redis://:p@ss@redis:6379")).toBe("redis://***@redis:6379");
  });

  test("a URL without credentials, or with an @ only in its path, is unchanged", () => {
    expect(maskUrlCredentials("http://127.0.0.1:8000/v1")).toBe("http://127.0.0.1:8000/v1");
    expect(maskUrlCredentials("http://host/path/@user")).toBe("http://host/path/@user");
  });
});
