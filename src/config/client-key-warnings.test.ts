import { describe, expect, test } from "bun:test";
import { buildProxyConfig } from "./proxy-config";
import type { ConfigFile } from "./schema";

const warningsOf = (file: Omit<ConfigFile, "endpoints">) =>
  buildProxyConfig(
    { endpoints: { m: { url: "http://127.0.0.1:9" } }, prices: { builtIn: false }, ...file } as ConfigFile,
    "/nowhere/config.json",
  ).warnings.filter((warning) => warning.startsWith("clientKeys."));

describe("--check-config: a client key with limits but no name", () => {
  test("is named: its counters follow its place in the list", () => {
    expect(warningsOf({ clientKeys: [{ key: "k-one", name: "one" }, { key: "k-two" }], limits: { perClient: { rpm: 5 } } })).toEqual([
      "clientKeys.1: has no name, so its limits and usage count under its place in the list, which moves when keys are added or removed; give it a name",
    ]);
    expect(warningsOf({ clientKeys: [{ key: "k-one", limits: { tokensPerDay: 10 } }] })).toHaveLength(1);
  });

  test("without limits per key, unnamed keys are fine", () => {
    expect(warningsOf({ clientKeys: [{ key: "k-one" }, { key: "k-two" }] })).toEqual([]);
  });
});
