// OpenAI `/v1/embeddings` ↔ Gemini `:batchEmbedContents`. One Gemini request per input, answered
// in the same order; the list goes back with `index` set so clients that sort by it, and clients
// that trust the order, both get each vector beside its input.
import { invalidRequest, ProxyError } from "../../model/errors";

type Json = Record<string, unknown>;

export interface EmbeddingOptions {
  /** The backend's model name (`gemini-embedding-001`, or `models/…`). */
  readonly model: string;
  /** Gemini's taskType (RETRIEVAL_QUERY, RETRIEVAL_DOCUMENT, SEMANTIC_SIMILARITY, …); OpenAI has no such field. */
  readonly taskType?: string;
}

export interface BatchEmbedRequest {
  requests: { model: string; content: { parts: { text: string }[] }; taskType?: string; outputDimensionality?: number }[];
}

export interface GeminiEmbedding {
  readonly path: string;
  readonly body: BatchEmbedRequest;
  /** The inputs in order: the usage estimate is made from them. */
  readonly texts: readonly string[];
  /** The client's encoding_format: the openai SDK asks for base64 by default. */
  readonly encodingFormat: "float" | "base64";
}

export interface EmbeddingList {
  object: "list";
  data: { object: "embedding"; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** batchEmbedContents takes at most this many requests; OpenAI allows more, so more is a clear 400 here. */
export const MAX_BATCH = 100;

const modelName = (model: string) => `models/${model.replace(/^models\//, "")}`;

/** The input as a list of texts; token arrays (numbers) have no Gemini equivalent. */
function textsOf(input: unknown): string[] {
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) throw invalidRequest("input must be a string or a non-empty array of strings", "input");
  return list.map((item, i) => {
    if (typeof item === "number" || Array.isArray(item)) throw invalidRequest("Gemini embeds text only: input as token arrays cannot be sent to it", "input");
    if (typeof item !== "string") throw invalidRequest(`input[${i}] must be a string`, `input[${i}]`);
    if (item === "") throw invalidRequest(`input[${i}] must not be empty`, `input[${i}]`);
    return item;
  });
}

/** The batchEmbedContents request for an OpenAI embeddings body. */
export function toBatchEmbedRequest(body: Json, opts: EmbeddingOptions): GeminiEmbedding {
  const texts = textsOf(body.input);
  if (texts.length > MAX_BATCH) throw invalidRequest(`Gemini embeds at most ${MAX_BATCH} inputs per request; this one has ${texts.length}`, "input");
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") throw invalidRequest("encoding_format must be float or base64", "encoding_format");
  const dimensions = body.dimensions;
  if (dimensions !== undefined && dimensions !== null && !(Number.isInteger(dimensions) && (dimensions as number) > 0)) {
    throw invalidRequest("dimensions must be a positive integer", "dimensions");
  }
  const model = modelName(opts.model);
  const requests = texts.map((text) => ({
    model,
    content: { parts: [{ text }] },
    ...(opts.taskType ? { taskType: opts.taskType } : {}),
    ...(typeof dimensions === "number" ? { outputDimensionality: dimensions } : {}),
  }));
  return { path: `v1beta/${model}:batchEmbedContents`, body: { requests }, texts, encodingFormat: format };
}

/** OpenAI's base64 form: the float32 values, little-endian. */
function base64Floats(values: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return Buffer.from(view.buffer).toString("base64");
}

/**
 * Gemini reports no token usage for embeddings, so prompt_tokens is an estimate: one token per four
 * UTF-8 bytes of each input, rounded up (a usageMetadata.promptTokenCount, if an answer has one, wins).
 */
export function estimateTokens(texts: readonly string[]): number {
  return texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text, "utf8") / 4), 0);
}

/** Gemini's `{embeddings:[{values}]}` → OpenAI's list, vector i beside input i. */
export function toEmbeddingList(response: unknown, request: Pick<GeminiEmbedding, "texts" | "encodingFormat">, opts: { model: string }): EmbeddingList {
  const answer = (response ?? {}) as { embeddings?: { values?: unknown }[]; usageMetadata?: { promptTokenCount?: unknown } };
  const embeddings = Array.isArray(answer.embeddings) ? answer.embeddings : [];
  if (embeddings.length !== request.texts.length) {
    throw new ProxyError(502, `Gemini answered ${embeddings.length} embeddings for ${request.texts.length} inputs`, "upstream_error", "bad_backend_answer");
  }
  const data = embeddings.map((embedding, index) => {
    const values = embedding?.values;
    if (!Array.isArray(values) || !values.every((v) => typeof v === "number")) {
      throw new ProxyError(502, `Gemini's embedding ${index} has no values`, "upstream_error", "bad_backend_answer");
    }
    return { object: "embedding" as const, index, embedding: request.encodingFormat === "base64" ? base64Floats(values) : values };
  });
  const reported = answer.usageMetadata?.promptTokenCount;
  const prompt = typeof reported === "number" ? reported : estimateTokens(request.texts);
  return { object: "list", data, model: opts.model, usage: { prompt_tokens: prompt, total_tokens: prompt } };
}
