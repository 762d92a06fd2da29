import { describe, expect, test } from "bun:test";
import { globMatches, IdMatcher, isGlob } from "./glob";

describe("model-id globs", () => {
  test("* spans any characters, slashes included; ? is one character", () => {
    expect(globMatches("ollama/*", "ollama/llama3:8b")).toBe(true);
    expect(globMatches("*", "a/b/c")).toBe(true);
    expect(globMatches("*", "")).toBe(true);
    expect(globMatches("llama?", "llama3")).toBe(true);
    expect(globMatches("llama?", "llama31")).toBe(false);
    expect(globMatches("claude-*-4*", "claude-sonnet-4-5")).toBe(true);
    expect(globMatches("*llama*70b*", "meta-llama-3.1-70b-instruct")).toBe(true);
    expect(globMatches("*llama*70b", "meta-llama-3.1-70b-instruct")).toBe(false);
    expect(globMatches("a*b*c", "aXbYbZc")).toBe(true);
    expect(globMatches("a*b", "a")).toBe(false);
  });

  test("every other character is literal", () => {
    expect(globMatches("a.b+(c)", "a.b+(c)")).toBe(true);
    expect(globMatches("a.b", "axb")).toBe(false);
    expect(globMatches("x", "xx")).toBe(false);
  });

  test("a very long id a client sends is judged at once (no backtracking)", () => {
    const long = "x".repeat(500_000);
    expect(globMatches("*llama*70b*", long)).toBe(false);
    expect(globMatches("*a*b*c*d*e*", `${long}abcde`)).toBe(true);
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
