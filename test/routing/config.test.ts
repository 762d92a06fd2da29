// The routing fields of the config file (issue 9), through `loadConfig`: validation errors name
// the file, the model id, the target index and the field; a model's targets inherit from their
// endpoint; top-level `retry`/`cooldown` are defaults; names, strategy and attempts have defaults.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Model } from "../../src/model/model";
import { ConfigError, loadConfig } from "../../src/config/load";
import { makeTempDir, removeTempDirs, writeConfig } from "../support/proxy";

const A = "http://127.0.0.1:9/a";
const B = "http://127.0.0.1:9/b";
const C = "http://127.0.0.1:9/c";

let dir: string;
beforeEach(() => {
  dir = makeTempDir("routing-config");
});
afterAll(() => removeTempDirs());

/** The problems a config is rejected with, one per line, each starting with the file's path. */
async function problems(config: unknown, env: Record<string, string> = {}): Promise<string[]> {
  const file = writeConfig(join(dir, "config.json"), config);
  try {
    await loadConfig(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as Error).message.split("\n");
    for (const line of lines) expect(line.startsWith(`${file}: `)).toBe(true);
    return lines.map((line) => line.slice(file.length + 2));
  }
  throw new Error(`expected the config to be rejected: ${JSON.stringify(config)}`);
}

async function load(config: unknown, env: Record<string, string> = {}) {
  return loadConfig(writeConfig(join(dir, "config.json"), config), env);
}

async function model(endpoint: unknown, top: Record<string, unknown> = {}): Promise<Model> {
  return (await load({ endpoints: { m: endpoint }, ...top })).models.get("m")!;
}

describe("validation errors name the file, the model, the target index and the field", () => {
  test("a bad field inside a target", async () => {
    expect(await problems({ endpoints: { m: { targets: [{ url: A }, { url: "ftp://x" }] } } })).toEqual([
      "endpoints.m.targets.1.url: expected an http:// or https:// URL",
    ]);
    expect(await problems({ endpoints: { m: { targets: [{ url: A }, { name: "n" }] } } })).toEqual(["endpoints.m.targets.1.url: is required"]);
    const weight = await problems({ endpoints: { m: { targets: [{ url: A, weight: 0 }] } } });
    expect(weight).toHaveLength(1);
    expect(weight[0]).toStartWith("endpoints.m.targets.0.weight: ");
    const timeouts = await problems({ endpoints: { m: { targets: [{ url: A }, { url: B, timeouts: { idleMs: "5" } }] } } });
    expect(timeouts).toEqual(["endpoints.m.targets.1.timeouts.idleMs: expected an integer"]);
  });

  test("the policy fields", async () => {
    const found = await problems({
      endpoints: {
        m: { url: A, strategy: "random", retry: { attempts: 0 }, cooldown: { seconds: 0 }, healthCheck: { intervalMs: 10 } },
        s: { url: B, discover: { refreshMs: 10 } },
      },
      retry: { retryOn: ["500"] },
    });
    const paths = found.map((line) => line.slice(0, line.indexOf(": ")));
    expect(paths.sort()).toEqual(
      [
        "endpoints.m.strategy",
        "endpoints.m.retry.attempts",
        "endpoints.m.cooldown.seconds",
        "endpoints.m.healthCheck.intervalMs",
        "endpoints.s.discover.refreshMs",
        "retry.retryOn.0",
      ].sort(),
    );
  });

  test("both url and targets, or neither", async () => {
    expect(await problems({ endpoints: { m: { url: A, targets: [{ url: B }] } } })).toEqual(["endpoints.m: has both url and targets; use one"]);
    expect(await problems({ endpoints: { m: { displayName: "M" } } })).toEqual(["endpoints.m.url: is required (or a targets list)"]);
    expect(await problems({ endpoints: { m: { targets: [] } } })).toHaveLength(1);
  });

  test("a target name used twice, also when a default name collides", async () => {
    expect(await problems({ endpoints: { m: { targets: [{ name: "x", url: A }, { url: B }, { name: "x", url: C }] } } })).toEqual([
      "endpoints.m.targets.2.name: 'x' is used twice in this model",
    ]);
    expect(await problems({ endpoints: { m: { targets: [{ name: "m#1", url: A }, { url: B }] } } })).toEqual([
      "endpoints.m.targets.1.name: 'm#1' is used twice in this model",
    ]);
    // The same name in two models is fine: names are per model.
    await load({ endpoints: { m: { targets: [{ name: "x", url: A }] }, n: { targets: [{ name: "x", url: B }] } } });
  });

  test("an unknown fallback, or a model falling back to itself", async () => {
    expect(await problems({ endpoints: { m: { url: A, fallbacks: ["n", "nope"] }, n: { url: B } } })).toEqual([
      "endpoints.m.fallbacks.1: unknown model 'nope'",
    ]);
    expect(await problems({ endpoints: { m: { url: A, fallbacks: ["m"] } } })).toEqual(["endpoints.m.fallbacks.0: a model cannot fall back to itself"]);
    // A discovery source is no model: it cannot be a fallback, but a model it may offer can.
    expect(await problems({ endpoints: { m: { url: A, fallbacks: ["src"] }, src: { url: B, discover: { prefix: "d/" } } } })).toEqual([
      "endpoints.m.fallbacks.0: unknown model 'src'",
    ]);
    await load({ endpoints: { m: { url: A, fallbacks: ["d/llama"] }, src: { url: B, discover: { prefix: "d/" } } } });
  });

  test("a fallback listed twice (the chain would try it, retries and all, twice)", async () => {
    expect(await problems({ endpoints: { m: { url: A, fallbacks: ["n", "o", "n"] }, n: { url: B }, o: { url: C } } })).toEqual([
      "endpoints.m.fallbacks.2: 'n' is listed twice",
    ]);
  });

  test("every problem at once, one line each", async () => {
    const found = await problems({
      endpoints: {
        m: { url: A, targets: [{ url: B }] },
        n: {
          targets: [
            { name: "x", url: A },
            { name: "x", url: B },
          ],
          fallbacks: ["ghost"],
        },
      },
    });
    expect(found.sort()).toEqual(
      [
        "endpoints.m: has both url and targets; use one",
        "endpoints.n.targets.1.name: 'x' is used twice in this model",
        "endpoints.n.fallbacks.0: unknown model 'ghost'",
      ].sort(),
    );
  });

  test("an unset ${ENV} in a target names its place", async () => {
    expect(await problems({ endpoints: { m: { targets: [{ url: A }, { url: B, apiKey: "${ROUTING_TEST_UNSET_KEY}" }] } } })).toEqual([
      "endpoints.m.targets.1.apiKey: environment variable ROUTING_TEST_UNSET_KEY is not set",
    ]);
  });

  test("clientKeys may name models a discovery source has not offered yet, and globs; without a source an unknown id is an error", async () => {
    const clientKeys = [{ key: "ck-0123456789abcdef", models: ["m", "ollama/llama3", "ollama/*"] }];
    await load({ endpoints: { m: { url: A }, ollama: { url: B, discover: { prefix: "ollama/" } } }, clientKeys });
    expect(await problems({ endpoints: { m: { url: A } }, clientKeys })).toEqual(["clientKeys.0.models.1: unknown model 'ollama/llama3'"]);
    // An id no source can offer (outside every prefix) is still a typo.
    const typo = [{ key: "ck-0123456789abcdef", models: ["ollama/llama3", "olama/llama3"] }];
    expect(await problems({ endpoints: { ollama: { url: B, discover: { prefix: "ollama/" } } }, clientKeys: typo })).toEqual([
      "clientKeys.0.models.1: unknown model 'olama/llama3'",
    ]);
    // A source without a prefix may offer any id.
    await load({ endpoints: { ollama: { url: B, discover: {} } }, clientKeys: typo });
  });
});

describe("limits.perModel names models the way clientKeys do", () => {
  test("a typo, an alias or a glob limits nothing (limits are looked up by the model's own id), so each is an error", async () => {
    const endpoints = { m: { url: A, aliases: ["m-latest"] }, ollama: { url: B, discover: { prefix: "ollama/" } } };
    expect(await problems({ endpoints, limits: { perModel: { mm: { rpm: 1 }, "m-latest": { rpm: 1 }, "ollama/*": { rpm: 1 } } } })).toEqual([
      "limits.perModel.mm: unknown model 'mm'",
      "limits.perModel.m-latest: unknown model 'm-latest'",
      "limits.perModel.ollama/*: a model id, not a glob: perModel limits each model by its own id",
    ]);
    // A model, and one a discovery source may offer later (under its prefix), are fine.
    await load({ endpoints, limits: { perModel: { m: { rpm: 1 }, "ollama/llama3": { rpm: 1 } } } });
  });
});

describe("targets inherit from their endpoint", () => {
  test("actualModelName, apiKey and timeouts unless the target sets them", async () => {
    const m = await model(
      {
        actualModelName: "endpoint-model",
        apiKey: "sk-endpoint",
        timeouts: { firstByteMs: 1234 },
        targets: [{ url: A }, { url: B, actualModelName: "own-model", apiKey: "sk-own", timeouts: { idleMs: 99 } }, { url: C, apiKey: "" }],
      },
      { timeouts: { connectMs: 77 } },
    );
    const [t0, t1, t2] = m.targets;
    expect(t0).toMatchObject({
      url: A,
      actualModelName: "endpoint-model",
      authorization: "Bearer sk-endpoint",
      timeouts: { connectMs: 77, firstByteMs: 1234, idleMs: 300_000 },
    });
    expect(t1).toMatchObject({
      url: B,
      actualModelName: "own-model",
      authorization: "Bearer sk-own",
      timeouts: { connectMs: 77, firstByteMs: 1234, idleMs: 99 },
    });
    // An empty key on the target means "no key", not "the endpoint's".
    expect(t2).toMatchObject({ url: C, actualModelName: "endpoint-model", authorization: null });
  });

  test("with nothing set anywhere, the backend model name is the model id and no key is sent", async () => {
    const [t0] = (await model({ targets: [{ url: A }] })).targets;
    expect(t0).toMatchObject({ actualModelName: "m", authorization: null, timeouts: { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 } });
  });

  test("${ENV} references in a target resolve", async () => {
    const config = await load(
      { endpoints: { m: { targets: [{ url: A, apiKey: "${ROUTING_KEY}" }, { url: "${ROUTING_URL:-http://127.0.0.1:9/d}" }] } } },
      {
        ROUTING_KEY: "sk-from-env",
      },
    );
    expect(config.models.get("m")!.targets.map((t) => [t.url, t.authorization])).toEqual([
      [A, "Bearer sk-from-env"],
      ["http://127.0.0.1:9/d", null],
    ]);
  });
});

describe("defaults", () => {
  test("target names default to <model>#<index>; the single-url form is one target <model>#0", async () => {
    expect((await model({ targets: [{ url: A }, { name: "named", url: B }, { url: C }] })).targets.map((t) => t.name)).toEqual(["m#0", "named", "m#2"]);
    const single = await model({ url: A, apiKey: "sk-single", actualModelName: "single-model" });
    expect(single.targets).toHaveLength(1);
    expect(single.targets[0]).toMatchObject({ name: "m#0", url: A, authorization: "Bearer sk-single", actualModelName: "single-model" });
  });

  test("strategy: weighted when any weight is set, else round-robin; an explicit one wins", async () => {
    expect((await model({ targets: [{ url: A }, { url: B }] })).strategy).toBe("round-robin");
    expect((await model({ url: A })).strategy).toBe("round-robin");
    expect((await model({ targets: [{ url: A }, { url: B, weight: 2 }] })).strategy).toBe("weighted");
    expect((await model({ targets: [{ url: A, weight: 1 }] })).strategy).toBe("weighted");
    expect((await model({ targets: [{ url: A, weight: 3 }, { url: B }], strategy: "least-busy" })).strategy).toBe("least-busy");
    const weights = (await model({ targets: [{ url: A, weight: 3 }, { url: B }] })).targets.map((t) => t.weight);
    expect(weights).toEqual([3, 1]);
  });

  test("retry: 2 tries with several targets, 1 with one; backoff 200 ms up to 5 s; the usual statuses", async () => {
    const several = await model({ targets: [{ url: A }, { url: B }] });
    expect(several.retry).toEqual({ attempts: 2, backoffMs: 200, maxBackoffMs: 5000, retryOn: new Set([408, 429, 500, 502, 503, 504]) });
    expect((await model({ targets: [{ url: A }] })).retry.attempts).toBe(1);
    expect((await model({ url: A })).retry.attempts).toBe(1);
    expect((await model({ url: A, retry: { attempts: 3 } })).retry.attempts).toBe(3);
  });

  test("cool-down: 3 failures and 30 s with several targets; none for a lone target unless its model sets it", async () => {
    expect((await model({ targets: [{ url: A }, { url: B }] })).cooldown).toEqual({ failures: 3, ms: 30_000 });
    expect((await model({ url: A })).cooldown).toBeNull();
    expect((await model({ url: A, cooldown: { seconds: 2 } })).cooldown).toEqual({ failures: 3, ms: 2000 });
    expect((await model({ url: A }, { cooldown: { failures: 1, seconds: 1 } })).cooldown).toBeNull();
  });

  test("top-level retry and cooldown are defaults for every model, field by field", async () => {
    const top = { retry: { attempts: 4, backoffMs: 10, retryOn: [503] }, cooldown: { failures: 5, seconds: 0.5 } };
    const config = await load({
      endpoints: {
        plain: { targets: [{ url: A }, { url: B }] },
        lone: { url: A },
        own: { targets: [{ url: A }, { url: B }], retry: { backoffMs: 50 }, cooldown: { seconds: 2 } },
      },
      ...top,
    });
    const plain = config.models.get("plain")!;
    expect(plain.retry).toEqual({ attempts: 4, backoffMs: 10, maxBackoffMs: 5000, retryOn: new Set([503]) });
    expect(plain.cooldown).toEqual({ failures: 5, ms: 500 });
    // Even a lone target takes the top-level attempts.
    expect(config.models.get("lone")!.retry.attempts).toBe(4);
    const own = config.models.get("own")!;
    expect(own.retry).toEqual({ attempts: 4, backoffMs: 50, maxBackoffMs: 5000, retryOn: new Set([503]) });
    expect(own.cooldown).toEqual({ failures: 5, ms: 2000 });
  });

  test("fallbacks and health checks are off unless set", async () => {
    const m = await model({ targets: [{ url: A }, { url: B }] });
    expect(m.fallbacks).toEqual([]);
    expect(m.healthCheckMs).toBeNull();
    const config = await load({ endpoints: { m: { url: A, fallbacks: ["n"], healthCheck: { intervalMs: 500 } }, n: { url: B } } });
    expect(config.models.get("m")).toMatchObject({ fallbacks: ["n"], healthCheckMs: 500 });
  });

  test("a discovery source is no model: it is listed as a source with its defaults", async () => {
    const config = await load({ endpoints: { m: { url: A }, ollama: { url: B, apiKey: "sk-src", discover: {} } } });
    expect([...config.models.keys()]).toEqual(["m"]);
    expect(config.sources).toHaveLength(1);
    expect(config.sources[0]).toMatchObject({ id: "ollama", prefix: "", refreshMs: 60_000 });
    expect(config.sources[0]!.include.matches("anything/at:all")).toBe(true);
    expect(config.sources[0]!.exclude.matches("anything")).toBe(false);
    expect(config.sources[0]!.template.targets[0]).toMatchObject({ url: B, authorization: "Bearer sk-src" });
  });
});
