import { describe, expect, test } from "bun:test";
import type { Price } from "../model/price";
import { costUsd } from "./cost";
import { resolvePrice } from "./resolve";
import { PriceTable } from "./price-table";

const price = (inputPerMTok: number, outputPerMTok: number, cachedInputPerMTok: number | null = null, cacheWriteInputPerMTok: number | null = null): Price => ({
  inputPerMTok,
  outputPerMTok,
  cachedInputPerMTok,
  cacheWriteInputPerMTok,
  source: "config",
});

describe("costUsd", () => {
  test("prompt at the input price, completion at the output price, per million tokens", () => {
    expect(costUsd({ promptTokens: 1_000_000, completionTokens: 500_000, totalTokens: 1_500_000 }, price(3, 15))).toBe(10.5);
    expect(costUsd({ promptTokens: 1000, completionTokens: 200, totalTokens: 1200 }, price(3, 15))).toBeCloseTo(0.006, 12);
  });

  test("cached prompt tokens at the cached-input price, the rest at the input price", () => {
    const usage = { promptTokens: 1000, completionTokens: 100, totalTokens: 1100, cachedPromptTokens: 800 };
    expect(costUsd(usage, price(3, 15, 0.3))).toBeCloseTo((200 * 3 + 800 * 0.3 + 100 * 15) / 1e6, 15);
  });

  test("without a cached-input price, cached tokens cost the input price", () => {
    const usage = { promptTokens: 1000, completionTokens: 0, totalTokens: 1000, cachedPromptTokens: 800 };
    expect(costUsd(usage, price(2, 8))).toBeCloseTo(0.002, 15);
  });

  test("more cached tokens than prompt tokens (a confused backend) never makes a negative part", () => {
    const usage = { promptTokens: 100, completionTokens: 0, totalTokens: 100, cachedPromptTokens: 500 };
    expect(costUsd(usage, price(10, 0, 1))).toBeCloseTo((100 * 1) / 1e6, 15);
  });

  test("prompt tokens written to the cache at the cache-write price, those read at the cached-input price, the rest at the input price", () => {
    const usage = { promptTokens: 1000, completionTokens: 100, totalTokens: 1100, cachedPromptTokens: 300, cacheWritePromptTokens: 600 };
    expect(costUsd(usage, price(3, 15, 0.3, 3.75))).toBeCloseTo((100 * 3 + 300 * 0.3 + 600 * 3.75 + 100 * 15) / 1e6, 15);
  });

  test("without a cache-write price, written tokens cost the input price", () => {
    const usage = { promptTokens: 1000, completionTokens: 0, totalTokens: 1000, cacheWritePromptTokens: 600 };
    expect(costUsd(usage, price(2, 8))).toBeCloseTo(0.002, 15);
  });

  test("more cache reads and writes than prompt tokens never makes a negative part: reads count first", () => {
    const usage = { promptTokens: 100, completionTokens: 0, totalTokens: 100, cachedPromptTokens: 80, cacheWritePromptTokens: 500 };
    expect(costUsd(usage, price(10, 0, 1, 20))).toBeCloseTo((80 * 1 + 20 * 20) / 1e6, 15);
  });

  test("a free model costs exactly 0", () => {
    expect(costUsd({ promptTokens: 10, completionTokens: 10, totalTokens: 20 }, price(0, 0))).toBe(0);
  });
});

describe("resolvePrice", () => {
  const table = new PriceTable({
    source: "test",
    version: "0",
    date: "2026-01-01",
    providers: [{ id: "p", match: { contains: "known" }, models: [{ id: "known", match: { equals: "known" }, prices: [{ input: 1, output: 2 }] }] }],
  });

  test("a configured price wins over the table's", () => {
    expect(resolvePrice({ inputPerMTok: 5, outputPerMTok: 6, cachedInputPerMTok: 0.5, cacheWriteInputPerMTok: 6.25 }, "known", table)).toEqual({
      inputPerMTok: 5,
      outputPerMTok: 6,
      cachedInputPerMTok: 0.5,
      cacheWriteInputPerMTok: 6.25,
      source: "config",
    });
  });

  test("else the table's for the backend model name; null without one, or without the table", () => {
    expect(resolvePrice(undefined, "known", table)).toMatchObject({ inputPerMTok: 1, outputPerMTok: 2, source: "built-in" });
    expect(resolvePrice(undefined, "unknown", table)).toBeNull();
    expect(resolvePrice(undefined, "known", null)).toBeNull();
  });
});
