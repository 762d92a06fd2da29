import { describe, expect, test } from "bun:test";
import { ProxyError } from "../../model/errors";
import { estimateTokens, MAX_BATCH, toBatchEmbedRequest, toEmbeddingList } from "./embeddings";

const OPTS = { model: "gemini-embedding-001" };

function refusal(body: Record<string, unknown>): ProxyError {
  try {
    toBatchEmbedRequest(body, OPTS);
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error("expected a 400");
}

describe("toBatchEmbedRequest", () => {
  test("one request per input, in order, naming the model; dimensions and taskType", () => {
    const request = toBatchEmbedRequest({ model: "emb", input: ["first", "second"], dimensions: 256, user: "u" }, { ...OPTS, taskType: "RETRIEVAL_DOCUMENT" });
    expect(request.path).toBe("v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(request.body).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "first" }] }, taskType: "RETRIEVAL_DOCUMENT", outputDimensionality: 256 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "second" }] }, taskType: "RETRIEVAL_DOCUMENT", outputDimensionality: 256 },
      ],
    });
    expect(request.texts).toEqual(["first", "second"]);
    expect(request.encodingFormat).toBe("float");
  });

  test("a single string; no key in the path; models/ prefix not doubled", () => {
    const request = toBatchEmbedRequest({ input: "only" }, { model: "models/text-embedding-004" });
    expect(request.body.requests).toEqual([{ model: "models/text-embedding-004", content: { parts: [{ text: "only" }] } }]);
    expect(request.path).toBe("v1beta/models/text-embedding-004:batchEmbedContents");
    expect(request.path).not.toContain("key=");
  });

  test("clear 400s: token arrays, empty input, a non-string, too many inputs, a bad format or dimensions", () => {
    expect(refusal({ input: [1, 2, 3] }).message).toContain("token arrays");
    expect(refusal({ input: [[1, 2], [3]] }).message).toContain("token arrays");
    expect(refusal({ input: [] }).param).toBe("input");
    expect(refusal({}).param).toBe("input");
    expect(refusal({ input: ["a", ""] }).param).toBe("input[1]");
    expect(refusal({ input: ["a", { text: "b" }] }).param).toBe("input[1]");
    expect(refusal({ input: Array.from({ length: MAX_BATCH + 1 }, () => "x") }).message).toContain(String(MAX_BATCH));
    expect(refusal({ input: "a", encoding_format: "int8" }).param).toBe("encoding_format");
    expect(refusal({ input: "a", dimensions: 0 }).param).toBe("dimensions");
    expect(refusal({ input: "a", dimensions: 1.5 }).status).toBe(400);
  });
});

describe("toEmbeddingList", () => {
  const answer = { embeddings: [{ values: [0.1, 0.2] }, { values: [-1, 0.5] }, { values: [3, 4] }] };
  const texts = ["one", "two", "three"];

  test("vectors in input order with index set; usage estimated from the inputs", () => {
    expect(toEmbeddingList(answer, { texts, encodingFormat: "float" }, { model: "gemini-embedding-001" })).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0.1, 0.2] },
        { object: "embedding", index: 1, embedding: [-1, 0.5] },
        { object: "embedding", index: 2, embedding: [3, 4] },
      ],
      model: "gemini-embedding-001",
      // "one" and "two" 1 each, "three" (5 bytes) 2.
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
  });

  test("the estimate: one token per 4 UTF-8 bytes of each input, rounded up; a reported count wins", () => {
    expect(estimateTokens(["abcd", "abcde", "é"])).toBe(1 + 2 + 1);
    const reported = { ...answer, usageMetadata: { promptTokenCount: 11 } };
    expect(toEmbeddingList(reported, { texts, encodingFormat: "float" }, OPTS).usage).toEqual({ prompt_tokens: 11, total_tokens: 11 });
  });

  test("base64 (the openai SDK's default) is float32 little-endian, as OpenAI sends it", () => {
    const list = toEmbeddingList(answer, { texts, encodingFormat: "base64" }, OPTS);
    const decoded = list.data.map((item) => {
      const bytes = Buffer.from(item.embedding as string, "base64");
      return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    });
    expect(decoded).toEqual([
      [Math.fround(0.1), Math.fround(0.2)],
      [-1, 0.5],
      [3, 4],
    ]);
  });

  test("an answer with the wrong count or no values is a 502, not a shifted list", () => {
    const short = () => toEmbeddingList({ embeddings: [{ values: [1] }] }, { texts, encodingFormat: "float" }, OPTS);
    expect(short).toThrow(ProxyError);
    expect(short).toThrow("1 embeddings for 3 inputs");
    expect(() => toEmbeddingList({ embeddings: [{}] }, { texts: ["a"], encodingFormat: "float" }, OPTS)).toThrow("no values");
    expect(() => toEmbeddingList(null, { texts: ["a"], encodingFormat: "float" }, OPTS)).toThrow(ProxyError);
  });
});
