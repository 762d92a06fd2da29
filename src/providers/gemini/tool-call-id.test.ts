import { describe, expect, test } from "bun:test";
import { randomNonce, signatureOf, toolCallId } from "./tool-call-id";

// Gemini writes signatures as standard base64 (with +, / and = padding): 199 bytes give all three.
const SIGNATURE = Buffer.from(Array.from({ length: 199 }, (_, i) => (i * 37 + 251) % 256)).toString("base64");

describe("tool-call ids", () => {
  test("an id carries its signature there and back, in [A-Za-z0-9_-] only", () => {
    expect(SIGNATURE).toMatch(/\+.*\/.*=$|\/.*\+.*=$/);
    const id = toolCallId(SIGNATURE, "abc123");
    expect(id.startsWith("call_abc123__ts_")).toBe(true);
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(signatureOf(id)).toBe(SIGNATURE);
  });

  test("every padding length survives", () => {
    for (const signature of ["QQ==", "QUI=", "QUJD", "+/+/", "a+b/cw=="]) expect(signatureOf(toolCallId(signature, "n"))).toBe(signature);
  });

  test("an unsigned call gets a plain OpenAI-style id", () => {
    expect(toolCallId(undefined, "xyz")).toBe("call_xyz");
    expect(signatureOf("call_xyz")).toBeUndefined();
  });

  test("ids from other backends carry nothing", () => {
    for (const id of ["call_abc", "toolu_01ABC", "functions.Bash:0", "call_a_b__ts_", "x__ts_QUJD", ""]) expect(signatureOf(id)).toBeUndefined();
  });

  test("random ids are 24 alphanumerics and differ", () => {
    const a = randomNonce();
    expect(a).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(randomNonce()).not.toBe(a);
    expect(toolCallId(undefined)).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });
});
