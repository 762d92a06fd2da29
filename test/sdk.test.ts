import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import OpenAI, { AzureOpenAI, toFile } from "openai";
import { reply } from "./support/mock-backend";
import { ALPHA_KEY, BRAVO_KEY, CLIENT_KEY, startHarness, STANDARD_MODEL_IDS, type Harness } from "./support/proxy";

let h: Harness;
let client: OpenAI;
beforeAll(async () => {
  h = await startHarness();
  client = new OpenAI({ baseURL: h.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const chunk = (content: string | null, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;

describe("the official openai SDK as a client", () => {
  test("models.list() shows every model with its display name", async () => {
    const models: (OpenAI.Models.Model & { name?: string })[] = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual(STANDARD_MODEL_IDS);
    expect(models.find((model) => model.id === "llama")?.name).toBe("Llama 3.1 (Bravo)");
    expect(models.every((model) => model.object === "model")).toBe(true);
  });

  test("models.retrieve() works for an id containing '/'", async () => {
    const model = (await client.models.retrieve("org/model-x")) as OpenAI.Models.Model & { name?: string };
    expect(model.id).toBe("org/model-x");
    expect(model.name).toBe("Model X (slash id)");
  });

  test("chat.completions.create non-streamed", async () => {
    const completion = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }], temperature: 0.5 });
    expect(completion.choices[0]!.message.content).toBe("hello from alpha");
    expect(completion.model).toBe("backend-gpt-4o");
    const received = h.alpha.last;
    expect(received.json()).toEqual({ model: "backend-gpt-4o", messages: [{ role: "user", content: "Hi" }], temperature: 0.5 });
    expect(received.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);
    expect([...received.headers].join()).not.toContain(CLIENT_KEY);
  });

  test("chat.completions.create streamed: the stream is iterated and the content assembled", async () => {
    h.bravo.willReply(reply.sse([chunk("Hel"), chunk("lo, "), ": keep-alive\n\n", chunk("world"), chunk(null, "stop"), "data: [DONE]\n\n"], { delayMs: 20 }));
    const stream = await client.chat.completions.create({ model: "llama", messages: [{ role: "user", content: "Hi" }], stream: true });
    let content = "";
    let finish: string | null = null;
    for await (const part of stream) {
      content += part.choices[0]?.delta.content ?? "";
      finish = part.choices[0]?.finish_reason ?? finish;
    }
    expect(content).toBe("Hello, world");
    expect(finish).toBe("stop");
    expect(h.bravo.last.json().stream).toBe(true);
    expect(h.bravo.last.headers.get("authorization")).toBe(`Bearer ${BRAVO_KEY}`);
  });

  test("chat.completions.create with stream: null (the SDK's types allow it, as OpenAI does) is answered whole", async () => {
    const completion = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }], stream: null });
    expect(completion.choices[0]!.message.content).toBe("hello from alpha");
    expect(h.alpha.last.json().stream).toBeNull();
  });

  test("embeddings.create", async () => {
    h.alpha.willReply(
      reply.json({
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.5, -0.25] }],
        model: "text-embedding-3-small",
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    );
    const result = await client.embeddings.create({ model: "embed", input: "hello", encoding_format: "float" });
    expect(result.data[0]!.embedding).toEqual([0.5, -0.25]);
    expect(h.alpha.last.path).toBe("/v1/embeddings");
    expect(h.alpha.last.json()).toEqual({ model: "text-embedding-3-small", input: "hello", encoding_format: "float" });
  });

  test("a base URL without /v1 works too (Open WebUI users set either)", async () => {
    const bare = new OpenAI({ baseURL: h.url(""), apiKey: CLIENT_KEY, maxRetries: 0 });
    const completion = await bare.chat.completions.create({ model: "llama", messages: [{ role: "user", content: "Hi" }] });
    expect(completion.choices[0]!.message.content).toBe("hello from bravo");
    expect(h.bravo.last.path).toBe("/v1/chat/completions");
  });
});

describe("the SDK maps the proxy's errors to its error classes", () => {
  test("an unknown model is OpenAI.NotFoundError with code model_not_found", async () => {
    const error = await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "Hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(notFound.status).toBe(404);
    expect(notFound.code).toBe("model_not_found");
    expect(notFound.message).toContain("nope");
  });

  test("an invalid request is OpenAI.BadRequestError naming the field", async () => {
    const error = await client.chat.completions
      .create({ model: "gpt", messages: "Hi" as unknown as OpenAI.Chat.ChatCompletionMessageParam[] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages");
    expect(h.alpha.requests.length).toBe(0);
  });

  test("a backend 429 is OpenAI.RateLimitError with its headers", async () => {
    h.alpha.willReply(
      reply.json(
        { error: { message: "slow down", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } },
        { status: 429, headers: { "retry-after": "30" } },
      ),
    );
    const error = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.headers?.get("retry-after")).toBe("30");
    // The SDK reads the proxy's request id, the one its log line and the backend carry.
    expect(rateLimited.requestID).toBe(h.alpha.last.headers.get("x-request-id"));
    expect(rateLimited.message).toContain("slow down");
  });

  test("a backend 500 is OpenAI.InternalServerError, and the SDK's own retry is the only retry", async () => {
    h.alpha.willReply(reply.json({ error: { message: "boom", type: "server_error", param: null, code: null } }, { status: 500 }));
    const error = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500);
    expect(h.alpha.requests.length).toBe(1);
  });
});

describe("the SDK's AzureOpenAI client with a deployment: the deployment in the path names the model, as on Azure", () => {
  const azure = (deployment: string) => new AzureOpenAI({ endpoint: h.url(""), apiKey: CLIENT_KEY, apiVersion: "2024-10-21", deployment, maxRetries: 0 });

  test("chat with model '' (Azure's samples) or the OpenAI model's name goes to the deployment's model", async () => {
    for (const model of ["", "gpt-4o"]) {
      const completion = await azure("gpt").chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] });
      expect(completion.choices[0]!.message.content).toBe("hello from alpha");
      expect(h.alpha.last.pathname).toBe("/v1/chat/completions");
      expect(h.alpha.last.json().model).toBe("backend-gpt-4o");
    }
  });

  test("models.list() (GET /openai/models?api-version=…) lists the proxy's models", async () => {
    const ids = [];
    for await (const model of azure("gpt").models.list()) ids.push(model.id);
    expect(ids).toEqual(
      (await (await fetch(h.url("/v1/models"), { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).json()).data.map((m: { id: string }) => m.id),
    );
    expect(ids).toContain("gpt");
  });

  test("a transcription whose form names another model goes to the deployment's, the form's model rewritten", async () => {
    h.bravo.willReply(reply.json({ text: "hi" }));
    const file = await toFile(Buffer.from("RIFF...."), "a.wav");
    const transcription = await azure("whisper").audio.transcriptions.create({ file, model: "whisper-1" });
    expect(transcription.text).toBe("hi");
    expect(h.bravo.last.pathname).toBe("/v1/audio/transcriptions");
    expect(h.bravo.last.text()).toContain('name="model"\r\n\r\nwhisper-large-v3\r\n');
    expect(h.bravo.last.text()).not.toContain("whisper-1");
  });
});
