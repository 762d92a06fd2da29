import { describe, expect, test } from "bun:test";
import { globToRegExp, IdMatcher, isGlob } from "./glob";

describe("model-id globs", () => {
  test("* spans any characters, slashes included; ? is one character", () => {
    expect(globToRegExp("ollama/*").test("ollama/llama3:8b")).toBe(true);
    expect(globToRegExp("*").test("a/b/c")).toBe(true);
    expect(globToRegExp("llama?").test("llama3")).toBe(true);
    expect(globToRegExp("llama?").test("llama31")).toBe(false);
  });

  test("every other character is literal", () => {
    expect(globToRegExp("a.b+(c)").test("a.b+(c)")).toBe(true);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
    expect(globToRegExp("x").test("xx")).toBe(false);
  });

  test("IdMatcher mixes exact ids and globs", () => {
    const matcher = new IdMatcher(["gpt", "ollama/*"]);
    expect(matcher.matches("gpt")).toBe(true);
    expect(matcher.matches("gpt-4")).toBe(false);
    expect(matcher.matches("ollama/qwen")).toBe(true);
    expect(isGlob("gpt")).toBe(false);
    expect(isGlob("g?t")).toBe(true);
  });
});
