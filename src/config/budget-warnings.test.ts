import { describe, expect, test } from "bun:test";
import { buildProxyConfig } from "./proxy-config";
import type { ConfigFile } from "./schema";

const PRICE = { inputPerMTok: 1, outputPerMTok: 2 };

/** The config's warnings about budgets; the built-in table off, so only configured prices count. */
function budgetWarnings(file: Omit<ConfigFile, "endpoints"> & Partial<Pick<ConfigFile, "endpoints">>): string[] {
  const config = buildProxyConfig(
    {
      endpoints: {
        priced: { url: "http://127.0.0.1:9", price: PRICE },
        bare: { url: "http://127.0.0.1:9" },
        half: { targets: [{ url: "http://127.0.0.1:9", price: PRICE }, { url: "http://127.0.0.1:9" }] },
        "team/x": { url: "http://127.0.0.1:9" },
      },
      prices: { builtIn: false },
      ...file,
    } as ConfigFile,
    "/nowhere/config.json",
  );
  return config.warnings.filter((warning) => warning.includes("budget"));
}

describe("--check-config: a budget over a model with no price", () => {
  test("perModel: named when its model (or one of its targets) has no price; a priced one is fine", () => {
    expect(budgetWarnings({ limits: { perModel: { bare: { usdPerDay: 5 }, priced: { usdPerMonth: 5 }, half: { usdPerMonth: 1 } } } })).toEqual([
      "limits.perModel.bare: a budget over a model with no price ('bare'): their requests cost null and spend none of it; give them a price",
      "limits.perModel.half: a budget over a model with no price ('half'): their requests cost null and spend none of it; give them a price",
    ]);
  });

  test("perClient and perUser: every unpriced model; a key's own: the unpriced models it may use", () => {
    const warnings = budgetWarnings({
      clientKeys: [
        { key: "k-one-000000000000", name: "one", models: ["team/*", "priced"], limits: { usdPerDay: 0 } },
        { key: "k-two-000000000000", name: "two", models: ["priced"], limits: { usdPerMonth: 3 } },
      ],
      limits: { perClient: { usdPerMonth: 10 }, perUser: { usdPerDay: 1 } },
    });
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toStartWith("limits.perUser: a budget over models with no price ('bare', 'half', 'team/x')");
    expect(warnings[1]).toStartWith("limits.perClient: a budget over models with no price ('bare', 'half', 'team/x')");
    expect(warnings[2]).toStartWith("clientKeys.0.limits (one): a budget over a model with no price ('team/x')");
    expect(warnings.join("\n")).not.toContain("k-one");
  });

  test("no budget, or limits of other kinds: no warning", () => {
    expect(budgetWarnings({ limits: { perModel: { bare: { rpm: 5, tokensPerDay: 100 } }, perUser: { tpm: 10 } } })).toEqual([]);
  });

  test("the built-in table prices a well-known backend name: no warning for it", () => {
    const config = buildProxyConfig(
      { endpoints: { mini: { url: "http://127.0.0.1:9", actualModelName: "gpt-4o-mini" } }, limits: { perModel: { mini: { usdPerDay: 1 } } } } as ConfigFile,
      "/nowhere/config.json",
    );
    expect(config.warnings).toEqual([]);
  });
});
