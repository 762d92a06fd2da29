import { describe, expect, test } from "bun:test";
import { hexOf, newKeyId, newSecret, prefixOf, statusAt } from "./key-row";

describe("key rows", () => {
  test("a secret is sk-cm- and 32 random bytes in URL-safe base64; no two alike", () => {
    const secrets = new Set(Array.from({ length: 100 }, newSecret));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^sk-cm-[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(6), "base64url")).toHaveLength(32);
    }
    expect(newKeyId()).toMatch(/^key_[0-9a-f]{16}$/);
  });

  test("the prefix shows 4 characters of the random part", () => {
    expect(prefixOf("sk-cm-AbCdEfGh")).toBe("sk-cm-AbCd…");
  });

  test("a digest's hex covers just its own bytes, even in a view of a larger buffer", () => {
    const buffer = new Uint8Array([0xff, 0x01, 0xab, 0xff]);
    expect(hexOf(buffer.subarray(1, 3))).toBe("01ab");
  });

  test("status: expiry is read off the clock (at the instant included), revoked wins, blocked stays blocked", () => {
    expect(statusAt({ status: "active", expiresAt: null }, 5)).toBe("active");
    expect(statusAt({ status: "active", expiresAt: 10 }, 9)).toBe("active");
    expect(statusAt({ status: "active", expiresAt: 10 }, 10)).toBe("expired");
    expect(statusAt({ status: "blocked", expiresAt: 10 }, 5)).toBe("blocked");
    expect(statusAt({ status: "blocked", expiresAt: 10 }, 11)).toBe("expired");
    expect(statusAt({ status: "revoked", expiresAt: 10 }, 11)).toBe("revoked");
  });
});
