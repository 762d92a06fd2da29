// Model discovery, black box: an endpoint with `discover` lists its backend's `GET /v1/models` at
// start, on reload and every `refreshMs`, and offers each listed id (filtered by include/exclude)
// as `<prefix><id>`. Requests to a discovered model reach that backend with its own id and the
// source's key. A failed listing keeps the last good list and is logged once; a configured model
// id wins over a discovered one; client keys may name discovered models by glob or by id.
import { afterEach, describe, expect, test } from "bun:test";
import { expectOpenAIError } from "../support/http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { CLIENT_KEY, removeTempDirs, type ProxyHandle } from "../support/proxy";
import { chat, completion, eventually, failure, modelRequests, outcome, reloadWith, startProxy } from "./lib-b";

const OLLAMA_KEY = "sk-ollama-0123456789-DISCOVERY";
const ONLY_OLLAMA = "ck-only-ollama-0123456789abcdef";
const PICKY = "ck-picky-0123456789abcdef012345";

let ollama: MockBackend;
let other: MockBackend;
let proxy: ProxyHandle | null = null;
/** What the discovery backend lists next, or the status its listing fails with. */
let listing: string[] | number;

afterEach(async () => {
  await proxy?.stop();
  proxy = null;
  await Promise.all([ollama.stop(), other.stop()]);
  removeTempDirs();
});

const listings = () => ollama.requests.filter((r) => r.method === "GET" && r.pathname === "/v1/models");

function config(refreshMs = 60_000) {
  return {
    endpoints: {
      configured: { url: other.url, actualModelName: "configured-actual" },
      "ollama/dup": { url: other.url, displayName: "Configured dup", actualModelName: "configured-dup" },
      ollama: {
        url: ollama.url,
        apiKey: OLLAMA_KEY,
        discover: { prefix: "ollama/", include: ["llama*", "qwen*", "phi*", "dup"], exclude: ["*-embed"], refreshMs },
      },
    },
    clientKeys: [
      { key: CLIENT_KEY, name: "everything" },
      { key: ONLY_OLLAMA, name: "only-ollama", models: ["ollama/*"] },
      // "ollama/qwen2:7b" is configured nowhere: a discovery source may offer it, so it is valid.
      { key: PICKY, name: "picky", models: ["configured", "ollama/qwen2:7b"] },
    ],
  };
}

async function setup(refreshMs?: number) {
  ollama = startMock("ollama");
  other = startMock("other");
  listing = ["llama3:8b", "mistral:7b", "llama3-embed", "qwen2:7b", "dup"];
  ollama.willReply((request) => {
    if (request.method === "GET" && request.pathname === "/v1/models") {
      if (typeof listing === "number") return failure(listing, "listing");
      return reply.json({ object: "list", data: listing.map((id) => ({ id, object: "model", owned_by: "library" })) });
    }
    return completion("ollama", request);
  });
  other.willReply((request) => completion("other", request));
  proxy = await startProxy(config(refreshMs));
  return proxy;
}

async function models(key = CLIENT_KEY): Promise<{ id: string; name: string }[]> {
  const response = await fetch(proxy!.url("/v1/models"), { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return (await response.json()).data.map(({ id, name }: { id: string; name: string }) => ({ id, name }));
}
const ids = async (key = CLIENT_KEY) => (await models(key)).map((model) => model.id);

const reload = async () => {
  const response = await fetch(proxy!.url("/reload"), { method: "POST" });
  expect(response.status).toBe(200);
  return response.json();
};

const discoveryWarnings = () => proxy!.log.lines.filter((line) => line.startsWith("WARN") && line.includes("discovery 'ollama'"));

describe("model discovery", () => {
  test("at start: the filtered list under the prefix, the source itself no model, a configured id winning", async () => {
    await setup();
    expect(await models()).toEqual([
      { id: "configured", name: "configured" },
      { id: "ollama/dup", name: "Configured dup" },
      { id: "ollama/llama3:8b", name: "ollama/llama3:8b" },
      { id: "ollama/qwen2:7b", name: "ollama/qwen2:7b" },
    ]);
    // The listing was asked with the source's key.
    expect(listings()).toHaveLength(1);
    expect(listings()[0]!.headers.get("authorization")).toBe(`Bearer ${OLLAMA_KEY}`);
    // One discovered model by id (the id holds a slash).
    const one = await fetch(proxy!.url("/v1/models/ollama/qwen2:7b"), { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(await one.json()).toMatchObject({ id: "ollama/qwen2:7b", object: "model", name: "ollama/qwen2:7b" });
    // Filtered out, and the source's own id: unknown models.
    for (const id of ["ollama/mistral:7b", "ollama/llama3-embed", "ollama"]) {
      await expectOpenAIError(await chat(proxy!, id), 404, { code: "model_not_found" });
    }
  });

  test("a chat request to a discovered model reaches its backend with the backend id and the source's key", async () => {
    await setup();
    const answer = await outcome(await chat(proxy!, "ollama/llama3:8b"));
    expect(answer).toMatchObject({ status: 200, model: "ollama/llama3:8b", servedBy: "ollama/llama3:8b/ollama", attempts: "1" });
    const sent = modelRequests(ollama);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.pathname).toBe("/v1/chat/completions");
    expect(sent[0]!.json().model).toBe("llama3:8b");
    expect(sent[0]!.headers.get("authorization")).toBe(`Bearer ${OLLAMA_KEY}`);
    expect(sent[0]!.text()).not.toContain(CLIENT_KEY);

    // The configured "ollama/dup" is served by its own backend, under its own backend name.
    expect(await outcome(await chat(proxy!, "ollama/dup"))).toMatchObject({ status: 200, servedBy: "ollama/dup/ollama/dup#0" });
    expect(modelRequests(other).map((r) => r.json().model)).toEqual(["configured-dup"]);
    expect(modelRequests(ollama)).toHaveLength(1);
  });

  test("/models follows the backend's list: on reload at once, and on the refresh timer", async () => {
    await setup(1000);
    listing = ["qwen2:7b", "phi3:mini", "nomic-embed"];
    await reload();
    expect(await ids()).toEqual(["configured", "ollama/dup", "ollama/qwen2:7b", "ollama/phi3:mini"]);
    expect(await outcome(await chat(proxy!, "ollama/phi3:mini"))).toMatchObject({ status: 200 });
    expect(modelRequests(ollama).at(-1)!.json().model).toBe("phi3:mini");
    // A model gone from the list is gone from the proxy.
    await expectOpenAIError(await chat(proxy!, "ollama/llama3:8b"), 404, { code: "model_not_found" });

    // No reload this time: the next timed listing (refreshMs 1000) brings the change.
    listing = ["llama3.1:70b"];
    const before = listings().length;
    await ollama.waitForRequests(ollama.requests.length + 1, 3000);
    expect(listings().length).toBeGreaterThan(before);
    await eventually(async () => ((await ids()).includes("ollama/llama3.1:70b") ? true : undefined), "the refreshed list in /models");
    expect(await ids()).toEqual(["configured", "ollama/dup", "ollama/llama3.1:70b"]);
  });

  test("a failed listing keeps the last good list and is logged once per outage", async () => {
    await setup();
    const good = await ids();
    listing = 500;
    await reload();
    expect(await ids()).toEqual(good);
    expect(discoveryWarnings()).toHaveLength(1);
    expect(discoveryWarnings()[0]).toContain("HTTP 500");
    // llama3:8b, qwen2:7b and dup (listed, though the configured "ollama/dup" shadows it)
    expect(discoveryWarnings()[0]).toContain("keeping the last 3 models");
    await reload();
    await reload();
    expect(discoveryWarnings()).toHaveLength(1);
    // The kept models are still served.
    expect(await outcome(await chat(proxy!, "ollama/qwen2:7b"))).toMatchObject({ status: 200 });

    // It recovers with a new list (logged), then the backend goes away entirely: a new outage, one more line.
    listing = ["phi3:mini"];
    await reload();
    expect(await ids()).toEqual(["configured", "ollama/dup", "ollama/phi3:mini"]);
    expect(proxy!.log.lines.filter((line) => line.includes("discovery 'ollama'") && line.includes("works again"))).toHaveLength(1);
    const url = ollama.url;
    await ollama.stop();
    await reload();
    await reload();
    expect(await ids()).toEqual(["configured", "ollama/dup", "ollama/phi3:mini"]);
    expect(discoveryWarnings()).toHaveLength(2);
    expect(discoveryWarnings()[1]).toContain("keeping the last 1 models");
    // Neither the backend's URL nor its key is in the log.
    expect(proxy!.log.text).not.toContain(url);
    expect(proxy!.log.text).not.toContain(OLLAMA_KEY);
  });

  test("a reload that changes the source (key, filters) needs a new list: when that listing fails, none of the old one is served", async () => {
    await setup();
    const changed = config();
    changed.endpoints.ollama.apiKey = "sk-ollama-rotated-0123456789";
    changed.endpoints.ollama.discover.exclude = ["*-embed", "qwen*"];
    listing = 401;
    await reloadWith(proxy!, changed);
    expect(listings().at(-1)!.headers.get("authorization")).toBe("Bearer sk-ollama-rotated-0123456789");
    expect(await ids()).toEqual(["configured", "ollama/dup"]);
    await expectOpenAIError(await chat(proxy!, "ollama/llama3:8b"), 404, { code: "model_not_found" });
    expect(discoveryWarnings()).toEqual(["WARN discovery 'ollama': listing models failed (HTTP 401); no models from it yet"]);

    // Once it lists again, the new filters apply.
    listing = ["llama3:8b", "qwen2:7b"];
    await reload();
    expect(await ids()).toEqual(["configured", "ollama/dup", "ollama/llama3:8b"]);
  });

  test("client keys: globs and not-yet-configured ids match discovered models; others are 403", async () => {
    await setup();
    expect(await ids(ONLY_OLLAMA)).toEqual(["ollama/dup", "ollama/llama3:8b", "ollama/qwen2:7b"]);
    const only = { authorization: `Bearer ${ONLY_OLLAMA}` };
    expect((await chat(proxy!, "ollama/llama3:8b", {}, only)).status).toBe(200);
    await expectOpenAIError(await chat(proxy!, "configured", {}, only), 403, { code: "model_not_allowed" });

    const picky = { authorization: `Bearer ${PICKY}` };
    expect(await ids(PICKY)).toEqual(["configured", "ollama/qwen2:7b"]);
    expect((await chat(proxy!, "ollama/qwen2:7b", {}, picky)).status).toBe(200);
    await expectOpenAIError(await chat(proxy!, "ollama/llama3:8b", {}, picky), 403, { code: "model_not_allowed" });
    expect(modelRequests(ollama).map((r) => r.json().model)).toEqual(["llama3:8b", "qwen2:7b"]);

    // The views follow the list: when qwen2 goes, the picky key sees only its configured model.
    listing = ["llama3:8b", "phi3:mini"];
    await reload();
    expect(await ids(PICKY)).toEqual(["configured"]);
    expect(await ids(ONLY_OLLAMA)).toEqual(["ollama/dup", "ollama/llama3:8b", "ollama/phi3:mini"]);
    const gone = await expectOpenAIError(await chat(proxy!, "ollama/qwen2:7b", {}, picky), 404, { code: "model_not_found" });
    expect(gone.message).toContain("Available models: configured");
  });
});
