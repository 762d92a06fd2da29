import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { concat, expectOpenAIError, postJson } from "./support/http";
import { rawRequest } from "./hardening/lib/raw-http";
import { reply } from "./support/mock-backend";
import { ALPHA_KEY, BRAVO_KEY, CLIENT_KEY, startHarness, STANDARD_MODEL_IDS, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const EMBEDDING_REPLY = { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, -0.2] }], model: "text-embedding-3-small" };

describe("passthrough: embeddings", () => {
  for (const path of ["/v1/embeddings", "/embeddings"]) {
    test(`${path} goes to <url>/v1/embeddings with the model rewritten and the rest untouched`, async () => {
      h.alpha.willReply(reply.json(EMBEDDING_REPLY, { headers: { "openai-processing-ms": "17" } }));
      const body = { model: "embed", input: ["a", "b"], encoding_format: "float", dimensions: 2, extra: { nested: [1, { x: null }] } };
      const response = await postJson(h.url(path), body);
      expect(response.status).toBe(200);
      expect(response.headers.get("openai-processing-ms")).toBe("17");
      // The request id is the proxy's, the one the backend was sent too.
      expect(response.headers.get("x-request-id")).toBe(h.alpha.last.headers.get("x-request-id"));
      expect(await response.json()).toEqual(EMBEDDING_REPLY);
      const received = h.alpha.last;
      expect(received.method).toBe("POST");
      expect(received.path).toBe("/v1/embeddings");
      expect(received.json()).toEqual({ ...body, model: "text-embedding-3-small" });
      expect(received.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
      expect(h.bravo.requests.length).toBe(0);
    });
  }
});

describe("passthrough: the documented request schemas are documentation, not validation", () => {
  const inputs: [string, unknown][] = [
    ["a string", "hello"],
    ["an array of strings", ["a", "b"]],
    ["an array of token ids", [1, 2, 3]],
    ["an array of token-id arrays", [[1, 2], [3]]],
  ];
  for (const [label, input] of inputs) {
    test(`embeddings input as ${label} is relayed unchanged`, async () => {
      const response = await postJson(h.url("/v1/embeddings"), { model: "embed", input });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(h.alpha.last.json()).toEqual({ model: "text-embedding-3-small", input });
    });
  }

  test("a JSON body without model, the model named by x-model-id, is relayed as sent", async () => {
    await (await postJson(h.url("/v1/images/generations"), { prompt: "a cat" }, { "x-model-id": "gpt" })).arrayBuffer();
    expect(h.alpha.last.path).toBe("/v1/images/generations");
    expect(h.alpha.last.json()).toEqual({ prompt: "a cat" });
  });

  test("Open WebUI's user and chat headers on an embeddings request stay behind; other headers go on", async () => {
    const openWebUI = {
      "x-openwebui-user-email": "ada@example.com",
      "x-openwebui-user-id": "u-1",
      "x-openwebui-chat-id": "c-1",
      "x-openwebui-user-jwt": "eyJ.e.s",
    };
    const response = await postJson(h.url("/v1/embeddings"), { model: "llama", input: "x" }, { ...openWebUI, "x-trace": "t-1" });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    for (const name of Object.keys(openWebUI)) expect(h.bravo.last.headers.get(name)).toBeNull();
    expect(h.bravo.last.headers.get("x-trace")).toBe("t-1");
  });

  test("documented fields with types the schema does not list reach the backend, which decides", async () => {
    const body = { model: "llama", query: ["q"], documents: "one", top_n: "2", extra: null };
    await (await postJson(h.url("/v1/rerank"), body)).arrayBuffer();
    expect(h.bravo.last.json()).toEqual({ ...body, model: "meta-llama/Llama-3.1-8B-Instruct" });
  });
});

describe("passthrough: choosing the model", () => {
  test("x-model-id header wins over the query and the body; model is rewritten in query and body; the header is not forwarded", async () => {
    const response = await postJson(h.url("/v1/embeddings?model=gpt&user=7"), { model: "embed", input: "x" }, { "x-model-id": "llama" });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(h.alpha.requests.length).toBe(0);
    const received = h.bravo.last;
    expect(received.headers.get("authorization")).toBe(`Bearer ${BRAVO_KEY}`);
    expect(received.headers.get("x-model-id")).toBeNull();
    expect(received.pathname).toBe("/v1/embeddings");
    expect(new URLSearchParams(received.search).get("model")).toBe("meta-llama/Llama-3.1-8B-Instruct");
    expect(new URLSearchParams(received.search).get("user")).toBe("7");
    expect(received.json()).toEqual({ model: "meta-llama/Llama-3.1-8B-Instruct", input: "x" });
  });

  test("the ?model= query wins over the body and is rewritten in both", async () => {
    await (await postJson(h.url("/v1/moderations?model=llama"), { model: "embed", input: "x" })).arrayBuffer();
    expect(h.alpha.requests.length).toBe(0);
    const received = h.bravo.last;
    expect(received.path).toBe("/v1/moderations?model=meta-llama%2FLlama-3.1-8B-Instruct");
    expect(new URLSearchParams(received.search).get("model")).toBe("meta-llama/Llama-3.1-8B-Instruct");
    expect(received.json()).toEqual({ model: "meta-llama/Llama-3.1-8B-Instruct", input: "x" });
  });

  test("the JSON body's model is used when there is no header and no query", async () => {
    await (await postJson(h.url("/v1/completions"), { model: "org/model-x", prompt: "Say hi", max_tokens: 3 })).arrayBuffer();
    expect(h.bravo.last.path).toBe("/v1/completions");
    expect(h.bravo.last.json()).toEqual({ model: "model-x-actual", prompt: "Say hi", max_tokens: 3 });
  });

  test("other query parameters are forwarded exactly as the client wrote them", async () => {
    await (await fetch(h.url("/v1/files?model=embed&q=a%20b&purpose=fine-tune&empty="))).arrayBuffer();
    expect(h.alpha.last.path).toBe("/v1/files?model=text-embedding-3-small&q=a%20b&purpose=fine-tune&empty=");
  });

  test("GET passthrough with x-model-id: method, path and query forwarded, no body", async () => {
    h.alpha.willReply(reply.json({ object: "list", data: [], has_more: false }));
    const response = await fetch(h.url("/v1/batches?limit=5&after=batch_1"), { headers: { "x-model-id": "gpt", authorization: `Bearer ${CLIENT_KEY}` } });
    expect(await response.json()).toEqual({ object: "list", data: [], has_more: false });
    const received = h.alpha.last;
    expect(received.method).toBe("GET");
    expect(received.path).toBe("/v1/batches?limit=5&after=batch_1");
    expect(received.body.byteLength).toBe(0);
    expect(received.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
  });

  test("DELETE passthrough keeps the method and the sub-path", async () => {
    await (await fetch(h.url("/v1/files/file-abc"), { method: "DELETE", headers: { "x-model-id": "gpt" } })).arrayBuffer();
    expect(h.alpha.last.method).toBe("DELETE");
    expect(h.alpha.last.path).toBe("/v1/files/file-abc");
  });

  test("an Azure deployment path naming the only model (Azure's REST API): an OpenAI-compatible backend gets the model in the body", async () => {
    for (const [path, body, actual] of [
      ["/openai/deployments/gpt/chat/completions?api-version=2024-10-21", { messages: [{ role: "user", content: "hi" }] }, "backend-gpt-4o"],
      ["/openai/deployments/embed/embeddings?api-version=2024-10-21", { input: "x" }, "text-embedding-3-small"],
    ] as const) {
      const response = await postJson(h.url(path), body);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(h.alpha.last.json()).toEqual({ ...body, model: actual });
    }
  });

  test("a model that is not a string is a 400 invalid_type naming model; a body that is no JSON object, invalid_body; no backend is called", async () => {
    for (const model of [42, ["embed"], { id: "embed" }]) {
      const response = await postJson(h.url("/v1/embeddings"), { model, input: "x" });
      await expectOpenAIError(response, 400, { type: "invalid_request_error", param: "model", code: "invalid_type" });
    }
    for (const body of ["[]", "null", '["embed"]']) {
      await expectOpenAIError(await postJson(h.url("/v1/embeddings"), body), 400, { code: "invalid_body", messageIncludes: ["must be a JSON object"] });
    }
    expect(h.alpha.requests.length + h.bravo.requests.length).toBe(0);
  });

  test("no model anywhere is a 400 in OpenAI's shape, and no backend is called", async () => {
    const response = await postJson(h.url("/v1/embeddings"), { input: "no model here" });
    await expectOpenAIError(response, 400, { type: "invalid_request_error", param: "model" });
    expect(h.alpha.requests.length + h.bravo.requests.length).toBe(0);
  });

  test("an unknown model in the passthrough is a 404 model_not_found", async () => {
    const response = await postJson(h.url("/v1/embeddings"), { model: "nope", input: "x" });
    await expectOpenAIError(response, 404, { code: "model_not_found", messageIncludes: ["nope", ...STANDARD_MODEL_IDS] });
  });

  test("a path that tries to leave <url>/v1/ with encoded slashes is refused", async () => {
    const response = await fetch(h.url("/v1/files%2F..%2F..%2Fadmin"), { headers: { "x-model-id": "gpt" } });
    await expectOpenAIError(response, 400);
    expect(h.alpha.requests.length).toBe(0);
  });

  test("an HTTP/1.0 request without a Host header is relayed like any other (its URL is the bare path)", async () => {
    h.alpha.willReply(reply.json(EMBEDDING_REPLY));
    const body = JSON.stringify({ model: "embed", input: "a" });
    const request = `POST /v1/embeddings?dimensions=2 HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const answer = await rawRequest(Number(new URL(h.url("/")).port), request);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text())).toEqual(EMBEDDING_REPLY);
    expect(h.alpha.last.path).toBe("/v1/embeddings?dimensions=2");
    expect(h.alpha.last.json()).toEqual({ model: "text-embedding-3-small", input: "a" });
  });
});

const encoder = new TextEncoder();
const BOUNDARY = "----cmOwpTestBoundary7MA4YWxkTrZu0gW";
/** Every byte value, so any text decoding or re-encoding on the way shows. */
const AUDIO_BYTES = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256);

function multipart(fields: Record<string, string>, file: { name: string; filename: string; type: string; bytes: Uint8Array }) {
  const parts: Uint8Array[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(encoder.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    encoder.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`),
  );
  parts.push(file.bytes);
  parts.push(encoder.encode(`\r\n--${BOUNDARY}--\r\n`));
  return concat(parts);
}

const audioFile = { name: "file", filename: "speech.wav", type: "audio/wav", bytes: AUDIO_BYTES };

describe("passthrough: non-JSON bodies", () => {
  test("a multipart audio upload with x-model-id passes byte for byte with its content type", async () => {
    const body = multipart({ language: "en", response_format: "json" }, audioFile);
    const contentType = `multipart/form-data; boundary=${BOUNDARY}`;
    h.bravo.willReply(reply.json({ text: "hello" }));
    const response = await fetch(h.url("/v1/audio/transcriptions"), {
      method: "POST",
      headers: { "content-type": contentType, "x-model-id": "whisper", authorization: `Bearer ${CLIENT_KEY}` },
      body,
    });
    expect(await response.json()).toEqual({ text: "hello" });
    const received = h.bravo.last;
    expect(received.path).toBe("/v1/audio/transcriptions");
    expect(received.headers.get("content-type")).toBe(contentType);
    expect(received.headers.get("authorization")).toBe(`Bearer ${BRAVO_KEY}`);
    expect(received.headers.get("x-model-id")).toBeNull();
    expect(received.body).toEqual(body);
  });

  test("a multipart form naming the model only inside the form is rewritten; other fields and the file survive", async () => {
    const body = multipart({ model: "whisper", language: "de" }, audioFile);
    await (
      await fetch(h.url("/audio/transcriptions"), { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` }, body })
    ).arrayBuffer();
    const received = h.bravo.last;
    expect(received.path).toBe("/v1/audio/transcriptions");
    const contentType = received.headers.get("content-type")!;
    expect(contentType).toStartWith("multipart/form-data; boundary=");
    const form = await new Response(received.body, { headers: { "content-type": contentType } }).formData();
    expect(form.get("model")).toBe("whisper-large-v3");
    expect(form.get("language")).toBe("de");
    const file = form.get("file") as File;
    expect(file.name).toBe("speech.wav");
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(AUDIO_BYTES);
  });

  test("rewriting a multipart form keeps each part's declared Content-Type exactly", async () => {
    const body = multipart({ model: "whisper" }, audioFile);
    await (
      await fetch(h.url("/v1/audio/transcriptions"), { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` }, body })
    ).arrayBuffer();
    // Parsing with FormData would normalise the type too; read the raw part headers.
    const fileHeader = /filename="speech\.wav"\r\nContent-Type: ([^\r]*)\r\n/.exec(h.bravo.last.text());
    expect(fileHeader?.[1]).toBe("audio/wav");
  });

  test("a binary response (audio/speech) reaches the client byte for byte with its headers", async () => {
    h.bravo.willReply(reply.raw(AUDIO_BYTES, { headers: { "content-type": "audio/mpeg", "x-audio-seconds": "1.5" } }));
    const response = await postJson(h.url("/v1/audio/speech"), { model: "whisper", input: "hi", voice: "alloy" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("audio/mpeg");
    expect(response.headers.get("x-audio-seconds")).toBe("1.5");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(AUDIO_BYTES);
    expect(h.bravo.last.json()).toEqual({ model: "whisper-large-v3", input: "hi", voice: "alloy" });
  });

  test("a passthrough SSE stream (responses API) is relayed byte for byte with SSE headers", async () => {
    const chunks = ['event: response.created\ndata: {"type":"response.created"}\n\n', 'event: response.output_text.delta\ndata: {"delta":"Hi"}\n\n'];
    h.alpha.willReply(reply.sse(chunks));
    const response = await postJson(h.url("/v1/responses"), { model: "gpt", input: "hi", stream: true });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(await response.text()).toBe(chunks.join(""));
    expect(h.alpha.last.json()).toEqual({ model: "backend-gpt-4o", input: "hi", stream: true });
  });
});
