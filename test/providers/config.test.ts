// The provider fields of the config file: `provider` on an endpoint or a target (a target inherits
// its endpoint's), the default URLs, `maxTokens`, `apiVersion`, `aliases`, and the validation errors
// that name a bad provider or a field that does not apply to it, through loadConfig and --check-config.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load";
import { BUN, CLI_ENTRY, cleanEnv, runToExit } from "../support/process";
import { makeTempDir, removeTempDirs, writeConfig } from "../support/proxy";

const A = "http://127.0.0.1:9/a";

let dir: string;
beforeEach(() => {
  dir = makeTempDir("provider-config");
});
afterAll(() => removeTempDirs());

async function problems(config: unknown): Promise<string[]> {
  const file = writeConfig(join(dir, "config.json"), config);
  try {
    await loadConfig(file, {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split("\n").map((line) => line.slice(file.length + 2));
  }
  throw new Error(`expected the config to be rejected: ${JSON.stringify(config)}`);
}

const load = (config: unknown) => loadConfig(writeConfig(join(dir, "config.json"), config), {});

describe("resolved targets", () => {
  test("the provider, its default URL and prefix, the key kept as is, maxTokens and apiVersion", async () => {
    const config = await load({
      endpoints: {
        claude: { provider: "anthropic", apiKey: "sk-ant", maxTokens: 2048 },
        gem: { provider: "gemini", apiKey: "AIza", actualModelName: "gemini-2.5-pro" },
        az: { provider: "azure", url: "https://res.openai.azure.com/", apiKey: "az-key", apiVersion: "2024-10-21" },
        plain: { url: A, apiKey: "sk-plain" },
      },
    });
    const target = (id: string) => config.models.get(id)!.targets[0]!;
    expect(target("claude")).toMatchObject({
      provider: "anthropic",
      url: "https://api.anthropic.com",
      prefix: "https://api.anthropic.com/v1/",
      authorization: null,
      apiKey: "sk-ant",
      maxTokens: 2048,
    });
    expect(target("gem")).toMatchObject({
      provider: "gemini",
      url: "https://generativelanguage.googleapis.com",
      prefix: "https://generativelanguage.googleapis.com/",
      apiKey: "AIza",
      maxTokens: 4096,
    });
    expect(target("az")).toMatchObject({ provider: "azure", prefix: "https://res.openai.azure.com/openai/", apiKey: "az-key", apiVersion: "2024-10-21" });
    expect(target("plain")).toMatchObject({ provider: "openai", prefix: "http://127.0.0.1:9/a/v1/", authorization: "Bearer sk-plain", apiVersion: null });
  });

  test("a target inherits its endpoint's provider unless it names its own", async () => {
    const config = await load({
      endpoints: {
        mixed: {
          provider: "anthropic",
          apiKey: "sk-ant",
          maxTokens: 100,
          targets: [{}, { url: A, provider: "openai", apiKey: "sk-oai" }, { provider: "gemini", url: "http://127.0.0.1:9/g/v1beta" }],
        },
      },
    });
    const [claude, openai, gemini] = config.models.get("mixed")!.targets;
    expect(claude).toMatchObject({ provider: "anthropic", prefix: "https://api.anthropic.com/v1/", maxTokens: 100 });
    expect(openai).toMatchObject({ provider: "openai", authorization: "Bearer sk-oai", prefix: "http://127.0.0.1:9/a/v1/" });
    expect(gemini).toMatchObject({ provider: "gemini", prefix: "http://127.0.0.1:9/g/" });
  });

  test("aliases are kept on the model; /debug-style views mask the keys of targets without a url", async () => {
    const config = await load({ endpoints: { claude: { provider: "anthropic", apiKey: "sk-ant-0123456789-abcdef", aliases: ["claude-*"] } } });
    expect(config.models.get("claude")!.aliases).toEqual(["claude-*"]);
    expect(JSON.stringify(config.debugView)).not.toContain("sk-ant-0123456789-abcdef");
  });
});

describe("validation errors name the field", () => {
  test("a provider that does not exist", async () => {
    expect(await problems({ endpoints: { m: { url: A, provider: "bedrock" } } })).toEqual([
      'endpoints.m.provider: expected "openai" or "anthropic" or "gemini" or "azure"',
    ]);
    expect(await problems({ endpoints: { m: { targets: [{ url: A, provider: "claude" }] } } })).toEqual([
      'endpoints.m.targets.0.provider: expected "openai" or "anthropic" or "gemini" or "azure"',
    ]);
  });

  test("a field that does not apply to the provider", async () => {
    expect(await problems({ endpoints: { m: { provider: "gemini", maxTokens: 100 } } })).toEqual([
      'endpoints.m.maxTokens: applies only to provider "anthropic", not "gemini"',
    ]);
    expect(await problems({ endpoints: { m: { provider: "anthropic", apiVersion: "2024-10-21" } } })).toEqual([
      'endpoints.m.apiVersion: applies only to provider "azure", not "anthropic"',
    ]);
    expect(await problems({ endpoints: { m: { url: A, maxTokens: 100 } } })).toEqual([
      'endpoints.m.maxTokens: applies only to provider "anthropic", not "openai"',
    ]);
    expect(await problems({ endpoints: { m: { provider: "anthropic", targets: [{}, { url: A, provider: "openai", maxTokens: 5 }] } } })).toEqual([
      'endpoints.m.targets.1.maxTokens: applies only to provider "anthropic", not "openai"',
    ]);
    // On the endpoint, a field is fine when one of its targets reads it.
    await load({ endpoints: { m: { maxTokens: 100, targets: [{ url: A }, { provider: "anthropic" }] } } });
    expect(await problems({ endpoints: { m: { maxTokens: 100, targets: [{ url: A }, { provider: "gemini" }] } } })).toEqual([
      'endpoints.m.maxTokens: applies only to provider "anthropic", not "openai" or "gemini"',
    ]);
    expect((await problems({ endpoints: { m: { provider: "anthropic", maxTokens: 0 } } }))[0]).toStartWith("endpoints.m.maxTokens: ");
  });

  test("url: only anthropic and gemini have a default", async () => {
    expect(await problems({ endpoints: { m: { provider: "azure", apiKey: "k" } } })).toEqual(["endpoints.m.url: is required (or a targets list)"]);
    expect(await problems({ endpoints: { m: { provider: "openai" } } })).toEqual(["endpoints.m.url: is required (or a targets list)"]);
    expect(await problems({ endpoints: { m: { provider: "anthropic", targets: [{}, { provider: "azure" }] } } })).toEqual([
      "endpoints.m.targets.1.url: is required",
    ]);
  });

  test("aliases: not over a model id, not twice, not on a discovery source", async () => {
    expect(
      await problems({
        endpoints: {
          a: { url: A, aliases: ["b", "shared", "a-*"] },
          b: { url: A, aliases: ["shared"] },
          src: { url: A, discover: {}, aliases: ["x"] },
        },
      }),
    ).toEqual([
      "endpoints.a.aliases.0: 'b' is a model id already",
      "endpoints.b.aliases.0: 'shared' is an alias of 'a' already",
      "endpoints.src.aliases: a discovery source takes no aliases",
    ]);
    expect(await problems({ endpoints: { a: { url: A, aliases: [""] } } })).toHaveLength(1);
  });

  test("--check-config prints them, and lists each target's provider when it is not openai", async () => {
    const bad = writeConfig(join(dir, "bad.json"), {
      endpoints: { m: { provider: "gemini", maxTokens: 1, apiVersion: "v" }, n: { url: A, provider: "palm" } },
    });
    const refused = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", bad], { cwd: dir, env: cleanEnv() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('endpoints.n.provider: expected "openai" or "anthropic" or "gemini" or "azure"');

    const crossField = writeConfig(join(dir, "cross.json"), { endpoints: { m: { provider: "gemini", maxTokens: 1, apiVersion: "v" } } });
    const named = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", crossField], { cwd: dir, env: cleanEnv() });
    expect(named.code).toBe(1);
    expect(named.stderr).toContain('endpoints.m.maxTokens: applies only to provider "anthropic", not "gemini"');
    expect(named.stderr).toContain('endpoints.m.apiVersion: applies only to provider "azure", not "gemini"');

    const good = writeConfig(join(dir, "good.json"), {
      endpoints: { claude: { provider: "anthropic", apiKey: "k", actualModelName: "claude-sonnet-4-5" }, plain: { url: A } },
    });
    const valid = await runToExit([BUN, CLI_ENTRY, "--check-config", "--config", good], { cwd: dir, env: cleanEnv() });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain("claude#0 -> https://api.anthropic.com/v1/ (claude-sonnet-4-5, anthropic)");
    expect(valid.stdout).toContain("plain#0 -> http://127.0.0.1:9/a/v1/ (plain)\n");
  });
});
