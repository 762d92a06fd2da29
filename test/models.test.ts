import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { expectOpenAIError } from "./support/http";
import { startHarness, STANDARD_MODEL_IDS, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

const DISPLAY_NAMES: Record<string, string> = {
  gpt: "GPT-4o (Alpha)",
  llama: "Llama 3.1 (Bravo)",
  "org/model-x": "Model X (slash id)",
  embed: "Embeddings (Alpha)",
  whisper: "Whisper (Bravo)",
  slow: "Slow (Alpha)",
};

describe("GET /models and /v1/models", () => {
  for (const path of ["/models", "/v1/models"]) {
    test(`${path} lists every model in OpenAI's shape with name = displayName`, async () => {
      const response = await fetch(h.url(path));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      const body = await response.json();
      expect(Object.keys(body).sort()).toEqual(["data", "object"]);
      expect(body.object).toBe("list");
      expect(body.data.map((model: { id: string }) => model.id)).toEqual(STANDARD_MODEL_IDS);
      for (const model of body.data) {
        expect(Object.keys(model).sort()).toEqual(["created", "id", "name", "object", "owned_by"]);
        expect(model.object).toBe("model");
        expect(Number.isInteger(model.created)).toBe(true);
        expect(model.created).toBeGreaterThan(1_600_000_000);
        expect(typeof model.owned_by).toBe("string");
        expect(model.name).toBe(DISPLAY_NAMES[model.id]!);
      }
    });
  }

  test("/models and /v1/models answer the same body, without touching any backend", async () => {
    const [bare, v1] = await Promise.all([fetch(h.url("/models")).then((r) => r.text()), fetch(h.url("/v1/models")).then((r) => r.text())]);
    expect(bare).toBe(v1);
    expect(h.alpha.requests.length + h.bravo.requests.length).toBe(0);
  });
});

describe("GET /models/{id}", () => {
  for (const prefix of ["", "/v1"]) {
    test(`${prefix}/models/gpt returns that one model`, async () => {
      const response = await fetch(h.url(`${prefix}/models/gpt`));
      expect(response.status).toBe(200);
      const model = await response.json();
      expect(model).toEqual({ id: "gpt", object: "model", created: model.created, owned_by: model.owned_by, name: "GPT-4o (Alpha)" });
      expect(Number.isInteger(model.created)).toBe(true);
    });

    test(`${prefix}/models/org/model-x works for an id containing "/"`, async () => {
      const response = await fetch(h.url(`${prefix}/models/org/model-x`));
      expect(response.status).toBe(200);
      const model = await response.json();
      expect(model.id).toBe("org/model-x");
      expect(model.name).toBe("Model X (slash id)");
    });

    test(`${prefix}/models/unknown is a 404 model_not_found listing the available ids`, async () => {
      const response = await fetch(h.url(`${prefix}/models/no-such-model`));
      await expectOpenAIError(response, 404, {
        type: "invalid_request_error",
        code: "model_not_found",
        messageIncludes: ["no-such-model", ...STANDARD_MODEL_IDS],
      });
    });
  }

  test("an id with '/' encoded as %2F is found too", async () => {
    const response = await fetch(h.url("/v1/models/org%2Fmodel-x"));
    expect(response.status).toBe(200);
    expect((await response.json()).id).toBe("org/model-x");
  });
});
