import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { maxInFlightInFile } from "../src/cli/in-flight";
import { ConfigError, loadConfig, logFormatInFile } from "../src/config/load";
import { startServer } from "../src/server/start";
import { chatBody, postJson } from "./support/http";
import { startMock, type MockBackend } from "./support/mock-backend";
import { CapturingLogger } from "./support/logger";
import { makeTempDir, removeTempDirs, startProxy, writeConfig } from "./support/proxy";

let mock: MockBackend;
let dir: string;
beforeAll(() => {
  mock = startMock("config");
});
beforeEach(() => {
  mock.reset();
  dir = makeTempDir("config");
});
afterAll(async () => {
  await mock.stop();
  removeTempDirs();
});

/** Loads `config` written to a fresh file; returns the ConfigError message it fails with. */
async function loadError(config: unknown, env: Record<string, string> = {}): Promise<{ message: string; file: string }> {
  const file = writeConfig(join(dir, "bad.json"), config);
  try {
    await loadConfig(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { message: (error as Error).message, file };
  }
  throw new Error("expected the config to be rejected");
}

const ORIGINAL_FORMAT_KEY = "sk-original-format-0123456789";

describe("config: the original format loads unchanged", () => {
  test('{"endpoints": {"<id>": {displayName, url, apiKey, actualModelName}}} serves and routes as written', async () => {
    const proxy = await startProxy({
      endpoints: {
        "gpt-4o": { displayName: "GPT-4o (OpenAI)", url: mock.url, apiKey: ORIGINAL_FORMAT_KEY, actualModelName: "cm-llm" },
      },
    });
    try {
      const models = await (await fetch(proxy.url("/models"))).json();
      expect(models.data.map(({ id, name }: { id: string; name: string }) => ({ id, name }))).toEqual([{ id: "gpt-4o", name: "GPT-4o (OpenAI)" }]);
      await (await postJson(proxy.url("/chat/completions"), chatBody("gpt-4o"))).arrayBuffer();
      expect(mock.last.path).toBe("/v1/chat/completions");
      expect(mock.last.json().model).toBe("cm-llm");
      expect(mock.last.headers.get("authorization")).toBe(`Bearer ${ORIGINAL_FORMAT_KEY}`);
    } finally {
      await proxy.stop();
    }
  });

  test("the shipped config.example.json is valid once its ${OPENAI_API_KEY} is set", async () => {
    const config = await loadConfig(join(import.meta.dir, "..", "config.example.json"), { OPENAI_API_KEY: "sk-from-env" });
    expect([...config.models.keys()]).toEqual(["gpt-4o", "local-llama"]);
  });
});

describe("config: validation messages name the file, the model id and the field", () => {
  test("a url that is not a string", async () => {
    const { message, file } = await loadError({ endpoints: { gpt: { url: 42, apiKey: "k" } } });
    expect(message).toContain(`${file}: endpoints.gpt.url: expected a string`);
  });

  test("openWebUI.headers: a name that is not a header name, or a field Open WebUI has no header for", async () => {
    const bad = await loadError({ endpoints: { gpt: { url: mock.url } }, openWebUI: { headers: { id: "X User Id" } } });
    expect(bad.message).toContain(`${bad.file}: openWebUI.headers.id: expected a header name`);
    const unknown = await loadError({ endpoints: { gpt: { url: mock.url } }, openWebUI: { headers: { userId: "X-Id" } } });
    expect(unknown.message).toContain("openWebUI.headers.userId: Open WebUI has no such header; the fields are id, email, name, role, chatId, messageId");
  });

  test("a delay past what a timer can hold (about 24.8 days), and a url with a query string", async () => {
    const late = await loadError({ endpoints: { gpt: { url: mock.url, timeouts: { idleMs: 3_000_000_000 } } }, drainTimeoutMs: 3_000_000_000 });
    expect(late.message).toContain("endpoints.gpt.timeouts.idleMs:");
    expect(late.message).toContain("drainTimeoutMs:");
    const query = await loadError({ endpoints: { gpt: { url: `${mock.url}/v1?key=SECRET` } } });
    expect(query.message).toContain("endpoints.gpt.url: has a query string or fragment");
    expect(query.message).not.toContain("SECRET");
  });

  test("a URL no request can be sent to (no host, a port past 65535) is refused by name, without its credentials", async () => {
    const { message, file } = await loadError({
      endpoints: { gpt: { url: "http://:8000" }, multi: { targets: [{ url: mock.url }, { url: "http://user:SECRET@127.0.0.1:99999" }] } },
      usage: { postgres: "postgres://proxy:SECRET@db:543200/usage" },
      state: { redis: "redis://:SECRET@cache:637900" },
    });
    expect(message.split("\n")).toEqual(
      [
        "endpoints.gpt.url: not a valid URL (is its host or port wrong?)",
        "endpoints.multi.targets.1.url: not a valid URL (is its host or port wrong?)",
        "usage.postgres: not a valid URL (is its host or port wrong?)",
        "state.redis: not a valid URL (is its host or port wrong?)",
      ].map((problem) => `${file}: ${problem}`),
    );
    expect(message).not.toContain("SECRET");
  });

  test("a model id listed twice (a copied endpoint not renamed) is an error: JSON.parse would keep the last one silently", async () => {
    const endpoint = JSON.stringify({ url: mock.url });
    // The second spells the same id with an escape; "endpoints" inside a model, and the same id in two other objects, are no duplicates.
    const text = `{"endpoints": {"gpt-4o": ${endpoint}, "gpt\\u002d4o": ${endpoint}, "b": {"url": "${mock.url}", "endpoints": {"b": 1, "b": 2}}}, "x": {"gpt-4o": 1}}`;
    const { message, file } = await loadError(text);
    expect(message).toBe(`${file}: endpoints.gpt-4o: listed twice; only the last would be used (rename one)`);
  });

  test("a missing url", async () => {
    const { message, file } = await loadError({ endpoints: { gpt: { displayName: "x" } } });
    expect(message).toContain(file);
    expect(message).toContain("endpoints.gpt.url");
  });

  test("a url that is not http(s)", async () => {
    const { message } = await loadError({ endpoints: { gpt: { url: "ftp://example.com" } } });
    expect(message).toContain("endpoints.gpt.url: expected an http:// or https:// URL");
  });

  test("an empty string where one is needed, and a number below its minimum, say so", async () => {
    const { message } = await loadError({ endpoints: { gpt: { url: "http://127.0.0.1:1", actualModelName: "" } }, adminKey: "", maxBodyBytes: 0 });
    expect(message).toContain("endpoints.gpt.actualModelName: must not be empty");
    expect(message).toContain("adminKey: must not be empty");
    expect(message).toContain("maxBodyBytes: expected at least 1");
  });

  test("a key a header cannot carry as typed (non-ASCII, a space) is refused, from the file or the environment", async () => {
    const { message } = await loadError({
      endpoints: { gpt: { url: "http://127.0.0.1:1" } },
      adminKey: "pässwörd-0123456789",
      clientKeys: [{ key: "two words", name: "a" }],
    });
    expect(message).toContain("adminKey: expected visible ASCII characters only");
    expect(message).toContain("clientKeys.0.key: expected visible ASCII characters only");
    const fromEnv = await loadError({ endpoints: { gpt: { url: "http://127.0.0.1:1" } } }, { CM_OPEN_WEBUI_PROXY_ADMIN_KEY: "ключ-0123456789" });
    expect(fromEnv.message).toContain("CM_OPEN_WEBUI_PROXY_ADMIN_KEY: expected visible ASCII characters only");
    // A backend's key, which every request would fail to send: named, never shown.
    const backend = await loadError({
      endpoints: {
        gpt: { url: "http://127.0.0.1:1", apiKey: "sk-abc\u2013def" },
        pair: { targets: [{ url: "http://127.0.0.1:2", apiKey: "sk-\u201cq\u201d" }] },
      },
    });
    expect(backend.message).toContain("endpoints.gpt.apiKey: expected ASCII characters only");
    expect(backend.message).toContain("endpoints.pair.targets.0.apiKey: expected ASCII characters only");
    expect(backend.message).not.toContain("sk-abc");
  });

  test("a number written as a string is an error, not a string the proxy would later use as a number", async () => {
    const { message } = await loadError({ endpoints: { gpt: { url: "http://127.0.0.1:1" } }, timeouts: { idleMs: "300" }, drainTimeoutMs: "5" });
    expect(message).toContain("timeouts.idleMs: expected an integer");
    expect(message).toContain("drainTimeoutMs: expected an integer");
  });

  test("every problem is reported, one per line, each naming its field", async () => {
    const { message } = await loadError({
      endpoints: { gpt: { url: 1 }, "org/llama": { url: "http://127.0.0.1:1", displayName: 5, actualModelName: false } },
      timeouts: { idleMs: "soon" },
      maxBodyBytes: -1,
    });
    for (const field of ["endpoints.gpt.url", "endpoints.org/llama.displayName", "endpoints.org/llama.actualModelName", "timeouts.idleMs", "maxBodyBytes"]) {
      expect(message).toContain(field);
    }
    expect(message.split("\n").length).toBeGreaterThanOrEqual(5);
  });

  test("per-endpoint timeouts of the wrong type", async () => {
    const { message } = await loadError({ endpoints: { gpt: { url: "http://127.0.0.1:1", timeouts: { firstByteMs: "1s" } } } });
    expect(message).toContain("endpoints.gpt.timeouts.firstByteMs");
  });

  test("no endpoints object at all", async () => {
    const { message } = await loadError({ models: {} });
    expect(message).toContain("endpoints");
  });

  test("a file that is not JSON names the file and does not quote its contents (they may hold keys)", async () => {
    const { message, file } = await loadError('{"endpoints": {"gpt": {"url": "http://x", "apiKey": "sk-leaky-secret-token-xyz" oops}}}');
    expect(message).toContain(file);
    expect(message).not.toContain("sk-leaky-secret-token-xyz");
  });

  test("a missing file is a ConfigError naming it", async () => {
    const missing = join(dir, "does-not-exist.json");
    await expect(loadConfig(missing, {})).rejects.toThrow(missing);
    await expect(loadConfig(missing, {})).rejects.toBeInstanceOf(ConfigError);
  });

  test("startServer refuses an invalid file (nothing starts listening)", async () => {
    const file = writeConfig(join(dir, "bad.json"), { endpoints: { gpt: { url: 42 } } });
    await expect(startServer({ configPath: file, port: 0, hostname: "127.0.0.1", log: new CapturingLogger() })).rejects.toThrow(
      "endpoints.gpt.url: expected a string",
    );
  });

  test("unknown extra fields are accepted (and shown by /debug, see admin.test.ts)", async () => {
    const config = await loadConfig(
      writeConfig(join(dir, "extra.json"), { future: { a: 1 }, endpoints: { gpt: { url: "http://127.0.0.1:1", futureField: [1, 2] } } }),
      {},
    );
    expect([...config.models.keys()]).toEqual(["gpt"]);
    expect(JSON.stringify(config.debugView)).toContain('"futureField":[1,2]');
    expect(JSON.stringify(config.debugView)).toContain('"future":{"a":1}');
  });
});

describe("config: a file saved with a UTF-8 byte order mark (Windows Notepad, PowerShell) reads like one without", () => {
  test("by loadConfig, and by the readers that run before it: maxInFlight (the re-exec) and log.format (start-up errors)", async () => {
    const file = writeConfig(
      join(dir, "bom.json"),
      `\uFEFF${JSON.stringify({ endpoints: { gpt: { url: mock.url } }, maxInFlight: 100, log: { format: "json" } })}`,
    );
    expect([...(await loadConfig(file, {})).models.keys()]).toEqual(["gpt"]);
    expect(maxInFlightInFile(file)).toBe(100);
    expect(logFormatInFile(file, {})).toBe("json");
  });
});

describe("config: ${ENV} substitution", () => {
  const ENV_KEY = "sk-from-environment-0123456789";

  test("an apiKey and a url taken from the environment reach the backend", async () => {
    const names = { key: "CM_OWP_TEST_KEY", base: "CM_OWP_TEST_BASE", model: "CM_OWP_TEST_MODEL" };
    process.env[names.key] = ENV_KEY;
    process.env[names.base] = mock.url;
    process.env[names.model] = "from-env";
    try {
      const proxy = await startProxy({
        endpoints: { gpt: { url: "${CM_OWP_TEST_BASE}/v1", apiKey: "${CM_OWP_TEST_KEY}", actualModelName: "model-${CM_OWP_TEST_MODEL}-suffix" } },
      });
      try {
        await (await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"))).arrayBuffer();
        expect(mock.last.headers.get("authorization")).toBe(`Bearer ${ENV_KEY}`);
        expect(mock.last.path).toBe("/v1/chat/completions");
        expect(mock.last.json().model).toBe("model-from-env-suffix");
        const debug = await (await fetch(proxy.url("/debug"))).text();
        expect(debug).not.toContain(ENV_KEY);
      } finally {
        await proxy.stop();
      }
    } finally {
      for (const name of Object.values(names)) delete process.env[name];
    }
  });

  test("a missing variable is a clear error naming the variable and where it is used", async () => {
    const { message, file } = await loadError({ endpoints: { gpt: { url: "http://127.0.0.1:1", apiKey: "${CM_OWP_NOT_SET}" } } }, {});
    expect(message).toContain(file);
    expect(message).toContain("CM_OWP_NOT_SET");
    expect(message).toContain("endpoints.gpt.apiKey");
  });

  test("a variable set to the empty string is substituted, not an error", async () => {
    const config = await loadConfig(writeConfig(join(dir, "empty.json"), { endpoints: { gpt: { url: "http://127.0.0.1:1", apiKey: "${EMPTY}" } } }), {
      EMPTY: "",
    });
    expect([...config.models.keys()]).toEqual(["gpt"]);
  });

  test("${NAME:-fallback} uses the fallback when NAME is unset or empty, and NAME when set", async () => {
    const file = writeConfig(join(dir, "fallback.json"), { endpoints: { gpt: { url: "http://127.0.0.1:1", displayName: "${CM_OWP_NAME:-Fallback Name}" } } });
    const names = async (env: Record<string, string>) => (await loadConfig(file, env)).models.get("gpt")!.displayName;
    expect(await names({})).toBe("Fallback Name");
    expect(await names({ CM_OWP_NAME: "" })).toBe("Fallback Name");
    expect(await names({ CM_OWP_NAME: "From Env" })).toBe("From Env");
  });

  test("text that is not a ${NAME} reference is left alone", async () => {
    await loadConfig(writeConfig(join(dir, "literal.json"), { endpoints: { gpt: { url: mock.url, displayName: "costs $5 {not a var} $HOME" } } }), {});
    const proxy = await startProxy({ endpoints: { gpt: { url: mock.url, displayName: "costs $5 {not a var} $HOME" } } });
    try {
      const model = await (await fetch(proxy.url("/v1/models/gpt"))).json();
      expect(model.name).toBe("costs $5 {not a var} $HOME");
    } finally {
      await proxy.stop();
    }
  });
});

describe("config: keys that name Object.prototype's members are plain keys", () => {
  const backend = () => ({ url: mock.url, apiKey: "sk-proto-backend-0123456789" });

  test("a clientKeys model named after an inherited member (toString, constructor, __proto__) is an unknown model", async () => {
    const { message } = await loadError({
      endpoints: { gpt: backend() },
      clientKeys: [{ key: "client-key-proto-0123456789", models: ["toString", "constructor", "__proto__", "gpt"] }],
    });
    expect(message).toContain("clientKeys.0.models.0: unknown model 'toString'");
    expect(message).toContain("clientKeys.0.models.1: unknown model 'constructor'");
    expect(message).toContain("clientKeys.0.models.2: unknown model '__proto__'");
    expect(message).not.toContain("models.3");
  });

  test('a "__proto__" key in the file sets no prototype: under endpoints it is a model like any other', async () => {
    const file = writeConfig(
      join(dir, "proto.json"),
      `{"__proto__": {"polluted": true}, "endpoints": {"__proto__": ${JSON.stringify({ ...backend(), actualModelName: "proto-actual" })}, "gpt": ${JSON.stringify(backend())}}}`,
    );
    const config = await loadConfig(file, {});
    expect([...config.models.keys()]).toEqual(["__proto__", "gpt"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const view = config.debugView as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.getPrototypeOf(view)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(view.endpoints)).toBe(Object.prototype);
    expect(Object.keys(view.endpoints!)).toEqual(["__proto__", "gpt"]);
    expect(Object.getOwnPropertyDescriptor(view.endpoints, "__proto__")?.value.apiKey).toBe("sk-pr...56789");

    const proxy = await startProxy(await Bun.file(file).text());
    try {
      const models = await (await fetch(proxy.url("/v1/models"))).json();
      expect(models.data.map((model: { id: string }) => model.id)).toEqual(["__proto__", "gpt"]);
      await (await postJson(proxy.url("/v1/chat/completions"), chatBody("__proto__"))).arrayBuffer();
      expect(mock.last.json().model).toBe("proto-actual");
    } finally {
      await proxy.stop();
    }
  });
});
