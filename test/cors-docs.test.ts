import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, postJson } from "./support/http";
import { reply } from "./support/mock-backend";
import { startHarness, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const ORIGIN = "http://open-webui.example:8080";

const preflight = (path: string, headers = "authorization,x-stainless-os") =>
  fetch(h.url(path), {
    method: "OPTIONS",
    headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });

const allowsOrigin = (response: Response) => {
  expect(response.headers.get("access-control-allow-origin")).toBeOneOf(["*", ORIGIN]);
};

describe("CORS", () => {
  for (const path of ["/v1/chat/completions", "/v1/models", "/chat/completions", "/v1/embeddings", "/v1/audio/transcriptions"]) {
    test(`preflight OPTIONS ${path} → 204 allowing the origin, POST and the requested headers`, async () => {
      const response = await preflight(path, "authorization,x-stainless-os,x-stainless-lang,content-type");
      expect(response.status).toBe(204);
      allowsOrigin(response);
      expect(response.headers.get("access-control-allow-methods")).toContain("POST");
      const allowedHeaders = (response.headers.get("access-control-allow-headers") ?? "").toLowerCase();
      for (const name of ["authorization", "x-stainless-os", "x-stainless-lang", "content-type"]) {
        expect(allowedHeaders === "*" || allowedHeaders.split(/\s*,\s*/).includes(name)).toBe(true);
      }
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(await response.text()).toBe("");
    });
  }

  test("a preflight never reaches a backend, and ends like any request: its access line, nothing left in flight", async () => {
    const response = await preflight("/v1/embeddings");
    await response.arrayBuffer();
    expect(h.alpha.requests.length + h.bravo.requests.length).toBe(0);
    const id = response.headers.get("x-request-id")!;
    const { log } = h.proxy;
    await log.until(() => log.accessLines.some((line) => line.includes(id)), 5000, `the access line of ${id}`);
    expect(JSON.parse(log.accessLines.find((line) => line.includes(id))!)).toMatchObject({ method: "OPTIONS", status: 204 });
    expect((await (await fetch(h.url("/status.json"))).json()).inFlight).toBe(0);
  });

  test("GET /v1/models with an Origin carries Access-Control-Allow-Origin", async () => {
    const response = await fetch(h.url("/v1/models"), { headers: { origin: ORIGIN } });
    expect(response.status).toBe(200);
    allowsOrigin(response);
  });

  test("a proxied chat completion with an Origin carries Access-Control-Allow-Origin (and the backend's own headers)", async () => {
    h.alpha.willReply(reply.json({ ok: true }, { headers: { "openai-processing-ms": "1" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { origin: ORIGIN });
    expect(await response.json()).toEqual({ ok: true });
    allowsOrigin(response);
    expect(response.headers.get("openai-processing-ms")).toBe("1");
  });

  test("a streamed chat completion with an Origin carries Access-Control-Allow-Origin", async () => {
    h.alpha.willReply(reply.sse(["data: {}\n\n", "data: [DONE]\n\n"]));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), { origin: ORIGIN });
    allowsOrigin(response);
    expect(await response.text()).toBe("data: {}\n\ndata: [DONE]\n\n");
  });

  test("an error answer with an Origin carries Access-Control-Allow-Origin (the browser can read error.message)", async () => {
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("nope"), { origin: ORIGIN });
    expect(response.status).toBe(404);
    allowsOrigin(response);
  });

  test("a backend's own CORS headers do not produce a second, conflicting Allow-Origin", async () => {
    h.alpha.willReply(reply.json({ ok: true }, { headers: { "access-control-allow-origin": "https://backend.example" } }));
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"), { origin: ORIGIN });
    await response.arrayBuffer();
    allowsOrigin(response);
  });
});

const ATTRIBUTE_URL = /\b(?:src|href)\s*=\s*["']([^"']+)["']/g;

describe("docs: Swagger UI works offline", () => {
  let html: string;
  beforeAll(async () => {
    const response = await fetch(h.url("/swagger"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    html = await response.text();
  });

  test("the page loads its script and stylesheet from /swagger/assets/, never a CDN", () => {
    const urls = [...html.matchAll(ATTRIBUTE_URL)].map((match) => match[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect(url).toStartWith("/swagger/assets/");
    expect(urls.some((url) => url.endsWith(".js"))).toBe(true);
    expect(urls.some((url) => url.endsWith(".css"))).toBe(true);
    expect(html).not.toMatch(/unpkg|jsdelivr|cdnjs|https?:\/\//i);
  });

  test("every asset the page references answers 200 with JavaScript or CSS", async () => {
    for (const url of [...html.matchAll(ATTRIBUTE_URL)].map((match) => match[1]!)) {
      const response = await fetch(h.url(url));
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      const type = response.headers.get("content-type") ?? "";
      const body = await response.text();
      if (url.endsWith(".js")) {
        expect(type).toContain("javascript");
        expect(body).toContain("SwaggerUIBundle");
      } else {
        expect(type).toContain("text/css");
        expect(body).toContain(".swagger-ui");
      }
    }
  });

  for (const page of ["/swagger", "/swagger/"]) {
    test(`the spec URL the page at ${page} tells Swagger UI to load resolves to the OpenAPI document`, async () => {
      const served = await fetch(h.url(page));
      expect(served.status).toBe(200);
      const specUrl = /"url"\s*:\s*"([^"]+)"/.exec(await served.text())?.[1];
      expect(specUrl).toBeDefined();
      // the browser resolves the spec URL against the page's own URL
      const resolved = new URL(specUrl!, h.url(page));
      expect(resolved.pathname).toBe("/swagger/json");
      const response = await fetch(resolved);
      expect(response.status).toBe(200);
      expect((await response.json()).openapi).toMatch(/^3\./);
    });
  }
});

describe("docs: the OpenAPI document", () => {
  let doc: { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, any>> };
  beforeAll(async () => {
    const response = await fetch(h.url("/swagger/json"));
    expect(response.status).toBe(200);
    doc = await response.json();
  });

  test("lists /v1/chat/completions, /v1/models, /health and /status.json, each operation with a summary", () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe("cm-open-webui-proxy");
    const expected: [string, string][] = [
      ["/v1/chat/completions", "post"],
      ["/v1/models", "get"],
      ["/health", "get"],
      ["/status.json", "get"],
    ];
    for (const [path, method] of expected) {
      const operation = doc.paths[path]?.[method];
      expect({ path, method, documented: operation !== undefined }).toEqual({ path, method, documented: true });
      expect(typeof operation.summary).toBe("string");
      expect(operation.summary.length).toBeGreaterThan(5);
    }
  });

  test("every documented operation has a summary", () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect({ path, method, summary: typeof operation.summary === "string" && operation.summary.length > 0 }).toEqual({ path, method, summary: true });
      }
    }
  });

  test("/v1/chat/completions documents its JSON request body schema (model, messages, stream)", () => {
    const content = doc.paths["/v1/chat/completions"]!.post.requestBody?.content ?? {};
    const schema = content["application/json"]?.schema;
    expect(schema).toBeDefined();
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(["model", "messages", "stream"]));
  });

  test("/v1/models and /health document their response schemas", () => {
    for (const [path, field] of [
      ["/v1/models", "data"],
      ["/health", "status"],
    ] as const) {
      const responses = doc.paths[path]!.get.responses ?? {};
      const schema = responses["200"]?.content?.["application/json"]?.schema;
      expect({ path, hasSchema: schema !== undefined }).toEqual({ path, hasSchema: true });
      expect(Object.keys(schema.properties ?? {})).toContain(field);
    }
  });
});

/** The common OpenAI paths the passthrough relays, each documented with a request schema. */
const PASSTHROUGH_PATHS = [
  "/v1/embeddings",
  "/v1/completions",
  "/v1/responses",
  "/v1/audio/transcriptions",
  "/v1/audio/speech",
  "/v1/images/generations",
  "/v1/moderations",
  "/v1/rerank",
];
const MULTIPART_PATHS = new Set(["/v1/audio/transcriptions"]);
const FORWARDED_METHODS = ["get", "head", "post", "put", "patch", "delete"];

describe("docs: the passthrough in the OpenAPI document", () => {
  let paths: Record<string, Record<string, any>>;
  beforeAll(async () => {
    paths = (await (await fetch(h.url("/swagger/json"))).json()).paths;
  });

  for (const path of PASSTHROUGH_PATHS) {
    const mediaType = MULTIPART_PATHS.has(path) ? "multipart/form-data" : "application/json";
    test(`${path}: POST with a summary and a permissive ${mediaType} schema that requires the model`, () => {
      const post = paths[path]?.post;
      expect({ path, documented: post !== undefined }).toEqual({ path, documented: true });
      expect(post.summary.length).toBeGreaterThan(5);
      const schema = post.requestBody?.content?.[mediaType]?.schema;
      expect({ path, mediaTypes: Object.keys(post.requestBody?.content ?? {}) }).toEqual({ path, mediaTypes: [mediaType] });
      expect(schema.type).toBe("object");
      expect(schema.additionalProperties).toBe(true);
      expect(schema.properties.model.type).toBe("string");
      expect(schema.required).toEqual(mediaType === "application/json" ? ["model"] : ["file", "model"]);
    });
  }

  test("/v1/audio/transcriptions documents its file as an upload", () => {
    const file = paths["/v1/audio/transcriptions"]!.post.requestBody.content["multipart/form-data"].schema.properties.file;
    expect(file).toMatchObject({ type: "string", format: "binary" });
  });

  test("the bare passthrough paths are not documented twice", () => {
    for (const path of PASSTHROUGH_PATHS) expect(paths[path.slice(3)]).toBeUndefined();
    expect(paths["/*"]).toBeUndefined();
  });

  test("one catch-all documents exactly the forwarded methods", () => {
    expect(Object.keys(paths["/v1/{path}"] ?? {}).sort()).toEqual([...FORWARDED_METHODS].sort());
  });

  test("no operation anywhere uses a method the proxy refuses (OPTIONS, TRACE, …)", () => {
    for (const [path, operations] of Object.entries(paths)) {
      for (const method of Object.keys(operations))
        expect({ path, method, forwarded: FORWARDED_METHODS.includes(method) }).toEqual({ path, method, forwarded: true });
    }
  });

  test("no documented operation answers 405", async () => {
    const values: Record<string, string> = { id: "gpt", path: "files" };
    let sent = 0;
    for (const [template, operations] of Object.entries(paths)) {
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => values[name]!);
      for (const method of Object.keys(operations)) {
        const response = await fetch(h.url(path), { method: method.toUpperCase() });
        await response.arrayBuffer();
        expect({ method, path, status: response.status }).not.toMatchObject({ status: 405 });
        sent++;
      }
    }
    expect(sent).toBeGreaterThan(PASSTHROUGH_PATHS.length + FORWARDED_METHODS.length);
  });
});

/** What Swagger UI's "Try it out" sends for a documented passthrough path: the required fields, nothing else. */
function tryItOutRequest(path: string, schema: { required: string[] }): RequestInit {
  if (!MULTIPART_PATHS.has(path)) return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gpt" }) };
  const form = new FormData();
  for (const field of schema.required) {
    if (field === "file") form.append("file", new Blob([AUDIO], { type: "audio/wav" }), "speech.wav");
    else form.append(field, "gpt");
  }
  return { method: "POST", body: form };
}

/** Every byte value, so a re-encoding on the way shows. */
const AUDIO = Uint8Array.from({ length: 256 }, (_, i) => i);

describe("docs: Try it out on a documented passthrough path reaches the backend", () => {
  let paths: Record<string, Record<string, any>>;
  beforeAll(async () => {
    paths = (await (await fetch(h.url("/swagger/json"))).json()).paths;
  });

  for (const path of PASSTHROUGH_PATHS) {
    test(`POST ${path} with the documented required fields → <url>${path}, model rewritten`, async () => {
      const content = paths[path]!.post.requestBody.content;
      const response = await fetch(h.url(path), tryItOutRequest(path, Object.values<any>(content)[0].schema));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      const received = h.alpha.last;
      expect(received.path).toBe(path);
      if (!MULTIPART_PATHS.has(path)) return expect(received.json()).toEqual({ model: "backend-gpt-4o" });
      const form = await new Response(received.body, { headers: { "content-type": received.headers.get("content-type")! } }).formData();
      expect(form.get("model")).toBe("backend-gpt-4o");
      expect(new Uint8Array(await (form.get("file") as File).arrayBuffer())).toEqual(AUDIO);
    });
  }
});
