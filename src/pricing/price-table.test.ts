import { describe, expect, test } from "bun:test";
import { BUILT_IN_PRICES, PriceTable, type PriceSnapshot } from "./price-table";

const priceOf = (name: string) => BUILT_IN_PRICES.lookup(name, "2026-09-23");

describe("the built-in price table", () => {
  test("well-known backend model names, exactly", () => {
    expect(priceOf("gpt-4o-mini")).toEqual({
      inputPerMTok: 0.15,
      outputPerMTok: 0.6,
      cachedInputPerMTok: 0.075,
      cacheWriteInputPerMTok: null,
      source: "built-in",
    });
    // Anthropic bills cache writes at 1.25 times the input price.
    expect(priceOf("claude-sonnet-4-5")).toEqual({
      inputPerMTok: 3,
      outputPerMTok: 15,
      cachedInputPerMTok: 0.3,
      cacheWriteInputPerMTok: 3.75,
      source: "built-in",
    });
    expect(priceOf("gemini-2.5-flash")).toMatchObject({ inputPerMTok: 0.3, outputPerMTok: 2.5, source: "built-in" });
  });

  test("a dated snapshot name, a provider in front, and any case match the same model", () => {
    const sonnet = priceOf("claude-sonnet-4-5");
    expect(priceOf("claude-sonnet-4-5-20250929")).toEqual(sonnet);
    expect(priceOf("anthropic/claude-sonnet-4-5")).toEqual(sonnet);
    expect(priceOf("openai/gpt-4o-mini")).toEqual(priceOf("gpt-4o-mini"));
    expect(priceOf("gemini/gemini-2.5-flash")).toEqual(priceOf("gemini-2.5-flash"));
    expect(priceOf(" GPT-4o-Mini ")).toEqual(priceOf("gpt-4o-mini"));
  });

  test("an unknown name, a local model and an empty one have no price", () => {
    expect(priceOf("my-finetune-v3")).toBeNull();
    expect(priceOf("llama3.1:8b")).toBeNull();
    expect(priceOf("")).toBeNull();
    expect(priceOf("openai/")).toBeNull();
  });

  test("the table says where it comes from and when", () => {
    expect(BUILT_IN_PRICES.snapshot.source).toBe("@pydantic/genai-prices");
    expect(BUILT_IN_PRICES.snapshot.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("PriceTable matching rules", () => {
  const table = new PriceTable({
    source: "test",
    version: "0",
    date: "2026-01-01",
    providers: [
      {
        id: "acme",
        match: { starts_with: "acme-" },
        fallbacks: ["other"],
        models: [
          { id: "acme-large", match: { and: [{ starts_with: "acme-large" }, { regex: "^(?!.*-tts$)" }] }, prices: [{ input: 2, output: 8 }] },
          { id: "acme-image", match: { equals: "acme-image" }, prices: [] },
          {
            id: "acme-small",
            match: { or: [{ equals: "acme-small" }, { regex: "^acme-small-\\d{4}-\\d{2}-\\d{2}$" }] },
            prices: [
              { input: 1, output: 2 },
              { since: "2026-06-01", input: 0.5, output: 1, cachedInput: 0.05 },
            ],
          },
        ],
      },
      { id: "other", models: [{ id: "acme-shared", match: { ends_with: "-shared" }, prices: [{ input: 3, output: 3 }] }] },
    ],
  } satisfies PriceSnapshot);

  test("the first matching model of the first matching provider; and, or, regex, equals", () => {
    expect(table.lookup("acme-large-2", "2026-01-01")?.inputPerMTok).toBe(2);
    expect(table.lookup("acme-large-tts", "2026-01-01")).toBeNull();
  });

  test("a model the provider lacks is looked up in the providers it falls back to", () => {
    expect(table.lookup("acme-x-shared", "2026-01-01")?.inputPerMTok).toBe(3);
  });

  test("a model whose tokens have no price (images) is unpriced, not priced by a later rule", () => {
    expect(table.lookup("acme-image", "2026-01-01")).toBeNull();
  });

  test("the price in force on the day: a dated price replaces the earlier one from its date", () => {
    expect(table.lookup("acme-small", "2026-05-31")).toEqual({
      inputPerMTok: 1,
      outputPerMTok: 2,
      cachedInputPerMTok: null,
      cacheWriteInputPerMTok: null,
      source: "built-in",
    });
    expect(table.lookup("acme-small", "2026-06-01")).toEqual({
      inputPerMTok: 0.5,
      outputPerMTok: 1,
      cachedInputPerMTok: 0.05,
      cacheWriteInputPerMTok: null,
      source: "built-in",
    });
  });

  test("a YYYYMMDD date in the name is tried as YYYY-MM-DD; a date that does not exist is not", () => {
    expect(table.lookup("acme-small-20260115", "2026-01-01")?.inputPerMTok).toBe(1);
    expect(table.lookup("acme-small-20260231", "2026-01-01")).toBeNull();
  });

  test("a provider id in front narrows the lookup to that provider", () => {
    expect(table.lookup("other/acme-x-shared", "2026-01-01")?.inputPerMTok).toBe(3);
    expect(table.lookup("router/acme/acme-large", "2026-01-01")?.inputPerMTok).toBe(2);
  });
});
