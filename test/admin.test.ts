import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { isAbsolute, join } from "node:path";
import { chatBody, expectOpenAIError, postJson } from "./support/http";
import { startMock, type MockBackend } from "./support/mock-backend";
import { ALPHA_KEY, BRAVO_KEY, endpointFor, removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "./support/proxy";

const TEN_CHAR_KEY = "abcdefghij";
const ELEVEN_CHAR_KEY = "abcdefghijk";
const SHORT_KEY = "sk-short";

let alpha: MockBackend;
let bravo: MockBackend;
let proxy: ProxyHandle;

/** The config every admin test starts from; `extra` adds endpoints. */
function baseConfig(extraEndpoints: Record<string, unknown> = {}) {
  return {
    notes: "top-level field the proxy does not know",
    endpoints: {
      gpt: endpointFor(alpha, { displayName: "GPT (Alpha)", apiKey: ALPHA_KEY, actualModelName: "backend-gpt-4o", contextWindow: 128000 }),
      llama: endpointFor(bravo, { displayName: "Llama (Bravo)", apiKey: BRAVO_KEY, actualModelName: "llama-actual" }),
      ten: endpointFor(bravo, { displayName: "Ten", apiKey: TEN_CHAR_KEY }),
      eleven: endpointFor(bravo, { displayName: "Eleven", apiKey: ELEVEN_CHAR_KEY }),
      short: endpointFor(bravo, { displayName: "Short", apiKey: SHORT_KEY }),
      ...extraEndpoints,
    },
  };
}

const reload = (query = "", init: RequestInit = {}) => fetch(proxy.url(`/reload${query}`), { method: "POST", ...init });
const modelIds = async () => ((await (await fetch(proxy.url("/v1/models"))).json()).data as { id: string }[]).map((model) => model.id);

beforeAll(async () => {
  alpha = startMock("alpha");
  bravo = startMock("bravo");
  proxy = await startProxy(baseConfig());
});
beforeEach(async () => {
  alpha.reset();
  bravo.reset();
  // every test starts from the base config, whatever the previous one left
  writeConfig(proxy.configPath, baseConfig());
  expect((await reload()).status).toBe(200);
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([alpha.stop(), bravo.stop()]);
  removeTempDirs();
});

describe("GET /health", () => {
  for (const path of ["/health", "/v1/health"]) {
    test(`${path} reports status, endpoint count and the models`, async () => {
      const response = await fetch(proxy.url(path));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      // Each single-backend endpoint is a model with one target, named `<id>#0`, up and idle.
      const lone = (id: string, displayName: string) => ({
        id,
        displayName,
        targets: [{ name: `${id}#0`, state: "up", inFlight: 0, ewmaTtfbMs: null, consecutiveFailures: 0, cooldownUntil: null }],
      });
      expect(await response.json()).toEqual({
        status: "ok",
        endpoints: 5,
        models: [lone("gpt", "GPT (Alpha)"), lone("llama", "Llama (Bravo)"), lone("ten", "Ten"), lone("eleven", "Eleven"), lone("short", "Short")],
      });
    });
  }
});

describe("GET /debug", () => {
  const debug = async (path = "/debug") => {
    const response = await fetch(proxy.url(path));
    expect(response.status).toBe(200);
    const text = await response.text();
    return { text, json: JSON.parse(text) };
  };

  test("masks every key: first 5 + '...' + last 5 when longer than 10 chars, else '***'", async () => {
    const { json } = await debug();
    const endpoints = json.endpoints;
    expect(endpoints.gpt.apiKey).toBe(`${ALPHA_KEY.slice(0, 5)}...${ALPHA_KEY.slice(-5)}`);
    expect(endpoints.gpt.apiKey).toBe("sk-al...alpha");
    expect(endpoints.llama.apiKey).toBe("sk-br...bravo");
    expect(endpoints.eleven.apiKey).toBe("abcde...ghijk");
    expect(endpoints.ten.apiKey).toBe("***");
    expect(endpoints.short.apiKey).toBe("***");
  });

  test("no full key appears anywhere in the body, on /debug or /v1/debug", async () => {
    for (const path of ["/debug", "/v1/debug"]) {
      const { text } = await debug(path);
      for (const key of [ALPHA_KEY, BRAVO_KEY, ELEVEN_CHAR_KEY, TEN_CHAR_KEY, SHORT_KEY])
        expect({ path, key, leaked: text.includes(key) }).toEqual({ path, key, leaked: false });
    }
  });

  test("masks credentials in a backend url", async () => {
    writeConfig(proxy.configPath, baseConfig({ withCredentials: { url: "https://user:url-password-SECRET@backend.example/v1", apiKey: ALPHA_KEY } }));
    expect((await reload()).status).toBe(200);
    const { json, text } = await debug();
    expect(json.endpoints.withCredentials.url).toBe("https://***@backend.example/v1");
    expect(text).not.toContain("url-password-SECRET");
  });

  test("shows the absolute path of the config file under the original's name and ours", async () => {
    const { json } = await debug();
    expect(isAbsolute(proxy.configPath)).toBe(true);
    expect(json.config_file_location).toBe(proxy.configPath);
    expect(json.configFile).toBe(proxy.configPath);
  });

  test("a field of the file cannot stand in for the config file's path", async () => {
    writeConfig(proxy.configPath, { ...baseConfig(), config_file_location: "/spoofed/config.json", configFile: "/spoofed/config.json" });
    expect((await reload()).status).toBe(200);
    const { json, text } = await debug();
    expect(json.config_file_location).toBe(proxy.configPath);
    expect(json.configFile).toBe(proxy.configPath);
    expect(text).not.toContain("/spoofed/");
  });

  test("every endpoint shows the original's four fields, with the display and backend model names in effect", async () => {
    const { json } = await debug();
    expect(json.endpoints.ten).toEqual({ url: bravo.url, displayName: "Ten", apiKey: "***", actualModelName: "ten" });
    writeConfig(proxy.configPath, baseConfig({ bare: { url: alpha.url } }));
    expect((await reload()).status).toBe(200);
    expect((await debug()).json.endpoints.bare).toEqual({ url: alpha.url, displayName: "bare", apiKey: "", actualModelName: "bare" });
  });

  test("keeps unknown extra fields, top-level and per endpoint, and the non-secret fields", async () => {
    const { json } = await debug();
    expect(json.notes).toBe("top-level field the proxy does not know");
    expect(json.endpoints.gpt.contextWindow).toBe(128000);
    expect(json.endpoints.gpt.url).toBe(alpha.url);
    expect(json.endpoints.gpt.displayName).toBe("GPT (Alpha)");
    expect(json.endpoints.gpt.actualModelName).toBe("backend-gpt-4o");
  });
});

describe("POST /reload", () => {
  test("a changed file is applied: a new model is listed and routed", async () => {
    writeConfig(proxy.configPath, baseConfig({ fresh: endpointFor(alpha, { displayName: "Fresh", apiKey: ALPHA_KEY, actualModelName: "fresh-actual" }) }));
    const response = await reload();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    // the original proxy's fields, with each model's display name as issue 8 asks
    expect(await response.json()).toEqual({
      status: "ok",
      message: `Configuration reloaded from ${proxy.configPath}`,
      endpoints: 6,
      models: [
        { id: "gpt", displayName: "GPT (Alpha)" },
        { id: "llama", displayName: "Llama (Bravo)" },
        { id: "ten", displayName: "Ten" },
        { id: "eleven", displayName: "Eleven" },
        { id: "short", displayName: "Short" },
        { id: "fresh", displayName: "Fresh" },
      ],
    });
    expect(await modelIds()).toEqual(["gpt", "llama", "ten", "eleven", "short", "fresh"]);

    const chat = await postJson(proxy.url("/v1/chat/completions"), chatBody("fresh"));
    expect(chat.status).toBe(200);
    await chat.arrayBuffer();
    expect(alpha.last.json().model).toBe("fresh-actual");
    expect(alpha.last.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
  });

  test("/v1/reload works too", async () => {
    writeConfig(proxy.configPath, baseConfig({ viaV1: endpointFor(bravo, { displayName: "Via v1" }) }));
    expect((await fetch(proxy.url("/v1/reload"), { method: "POST" })).status).toBe(200);
    expect(await modelIds()).toContain("viaV1");
  });

  test("a file with a wrong field is rejected with the validation message; the running config is unchanged", async () => {
    writeConfig(proxy.configPath, baseConfig({ fresh: endpointFor(alpha, { displayName: "Fresh", apiKey: ALPHA_KEY }) }));
    expect((await reload()).status).toBe(200);
    const before = await (await fetch(proxy.url("/v1/models"))).text();

    const broken = baseConfig({ fresh: endpointFor(alpha, { displayName: "Fresh", apiKey: ALPHA_KEY }) });
    (broken.endpoints.gpt as Record<string, unknown>).url = 42;
    writeConfig(proxy.configPath, broken);
    const response = await reload();
    const error = await expectOpenAIError(response, 400);
    expect(error.message).toContain("endpoints.gpt.url: expected a string");
    expect(error.message).toContain(proxy.configPath);

    expect(await (await fetch(proxy.url("/v1/models"))).text()).toBe(before);
    const chat = await postJson(proxy.url("/v1/chat/completions"), chatBody("gpt"));
    expect(chat.status).toBe(200);
    await chat.arrayBuffer();
    expect(alpha.last.json().model).toBe("backend-gpt-4o");
    expect(alpha.last.path).toBe("/v1/chat/completions");
  });

  // A file that is not JSON, and a rejected file's keys never quoted (in the answer or the log):
  // hardening/access.test.ts, "a rejected reload reports the validation message without the file's secrets".

  test("?config= in the request is ignored: only the startup file is read", async () => {
    const other = writeConfig(join(proxy.dir, "other.json"), { endpoints: { evil: { url: alpha.url, apiKey: "x" } } });
    writeConfig(proxy.configPath, baseConfig({ legit: endpointFor(bravo, { displayName: "Legit" }) }));
    const response = await reload(`?config=${encodeURIComponent(other)}`, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ config: other, path: other }),
    });
    expect(response.status).toBe(200);
    const ids = await modelIds();
    expect(ids).not.toContain("evil");
    expect(ids).toContain("legit");
    const debugText = await (await fetch(proxy.url("/debug"))).text();
    expect(debugText).toContain(JSON.stringify(proxy.configPath));
    expect(debugText).not.toContain(other);
  });
});

/**
 * The masking table through /debug: backend keys keep the original's rule; client keys and the
 * admin key (operator-chosen, maybe short) show at most a quarter, nothing below 16 characters.
 */
describe("GET /debug masking table, by key kind and length", () => {
  const TABLE = {
    backend: [
      ["bk-01234", "***"],
      ["bk-012345678", "bk-01...45678"],
      ["bk-0123456789abcdefg", "bk-01...cdefg"],
      ["bk-0123456789abcdefghijKLMNOPQRSTUVWXYZk", "bk-01...WXYZk"],
    ],
    client: [
      ["ck-01234", "***"],
      ["ck-012345678", "***"],
      ["ck-0123456789abcdefg", "ck...fg"],
      ["ck-0123456789abcdefghijKLMNOPQRSTUVWXYZk", "ck-01...WXYZk"],
    ],
    admin: [
      ["ak-01234", "***"],
      ["ak-012345678", "***"],
      ["ak-0123456789abcdefg", "ak...fg"],
      ["ak-0123456789abcdefghijKLMNOPQRSTUVWXYZk", "ak-01...WXYZk"],
    ],
  } as const;
  const config = (adminKey: string) => ({
    endpoints: Object.fromEntries(TABLE.backend.map(([apiKey], i) => [`m${i}`, endpointFor(alpha, { apiKey })])),
    clientKeys: TABLE.client.map(([key], i) => ({ key, name: `client${i}` })),
    adminKey,
  });

  test("8, 12, 20 and 40 characters of each kind", async () => {
    const keyed = await startProxy(config(TABLE.admin[0][0]));
    try {
      let current: string = TABLE.admin[0][0];
      for (const [adminKey, maskedAdmin] of TABLE.admin) {
        writeConfig(keyed.configPath, config(adminKey));
        const reloaded = await fetch(keyed.url("/reload"), { method: "POST", headers: { authorization: `Bearer ${current}` } });
        expect(reloaded.status).toBe(200);
        await reloaded.arrayBuffer();
        current = adminKey;

        const response = await fetch(keyed.url("/debug"), { headers: { authorization: `Bearer ${adminKey}` } });
        const text = await response.text();
        expect(response.status).toBe(200);
        const view = JSON.parse(text);
        expect(TABLE.backend.map((_, i) => view.endpoints[`m${i}`].apiKey)).toEqual(TABLE.backend.map(([, masked]) => masked));
        expect(view.clientKeys.map((client: { key: string }) => client.key)).toEqual(TABLE.client.map(([, masked]) => masked));
        expect(view.adminKey).toBe(maskedAdmin);
        for (const [key] of [...TABLE.backend, ...TABLE.client, ...TABLE.admin]) expect({ key, leaked: text.includes(key) }).toEqual({ key, leaked: false });
      }
    } finally {
      await keyed.stop();
    }
  });
});
