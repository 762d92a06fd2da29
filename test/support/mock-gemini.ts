// A mock Gemini (generativelanguage v1beta) backend on 127.0.0.1 (port 0) that refuses what the
// real API refuses, in Gemini's error shape `{"error":{"code","message","status"}}`, so a
// translation that would fail against Google fails here too:
// - a field the API has no field for, anywhere it parses (the request, contents and parts,
//   generationConfig, tools and every function-declaration schema: additionalProperties, $schema,
//   $ref, …), and values of the wrong type;
// - a key in the URL (`?key=`, which the real API takes but which ends up in logs: the proxy must
//   use the header), no `x-goog-api-key`, a wrong one, an `Authorization` header (Google reads it as
//   an OAuth token);
// - a system role in contents, an empty part, empty contents, an OBJECT schema with empty
//   properties, a required name that is not a property, toolConfig without tools;
// - a functionResponse turn whose count differs from the functionCalls of the model turn before
//   it, and a functionCall replayed without the thoughtSignature the mock sent on it (or with
//   another one; Google's documented skip values pass).
// Every request is recorded. Answers are scripted as GenerateContentResponse chunks and sent in the
// API's recorded shapes: whole (the chunks merged), as SSE (`data: …\r\n\r\n` per chunk) or, without
// alt=sse, as one JSON array. batchEmbedContents answers with vectors derived from each text.
import type { GenerateContentResponse, Part, UsageMetadata } from "../../src/providers/gemini/types";
import { RecordingServer } from "./recording-server";

type Json = Record<string, unknown>;

export interface GeminiRefusal {
  status: number;
  statusText: string;
  message: string;
  details?: Json[];
}

export type GeminiReply =
  /** Sent whole (merged), as SSE events or as a JSON array, whichever the request asked. */
  | { kind: "answer"; chunks: GenerateContentResponse[]; delayMs?: number }
  | { kind: "error"; status: number; statusText: string; message: string; details?: Json[]; headers?: Record<string, string> }
  /** A raw body, sent as these chunks whatever the request asked. */
  | { kind: "raw"; chunks: string[]; contentType?: string };

export interface GeminiRequest {
  readonly method: string;
  /** pathname + query string, as received */
  readonly path: string;
  readonly search: URLSearchParams;
  readonly headers: Headers;
  /** The model of the path (`gemini-2.5-flash`), and the method (`generateContent`, …). */
  readonly model: string | null;
  readonly rpc: string | null;
  /** The parsed JSON body; undefined when it was not JSON. */
  readonly body: any;
  /** What the mock refused the request for, or null when it answered it. */
  readonly refusal: GeminiRefusal | null;
}

type Script = GeminiReply | ((request: GeminiRequest) => GeminiReply);

export interface ScriptedCall {
  name: string;
  args?: Json;
  /** Attach a thoughtSignature (default: only the first call of a step, as Gemini 3 does). */
  signed?: boolean;
}

// ---------------------------------------------------------------------------------------------
// What the API parses. Field names are written camelCase; snake_case (which protobuf JSON also
// takes) is accepted too.

type Spec =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "bytes"
  | "any"
  | { readonly object: Readonly<Record<string, Spec>> }
  | { readonly list: Spec }
  | { readonly map: Spec }
  | { readonly enum: readonly string[] }
  | "schema";

const list = (of: Spec): Spec => ({ list: of });
const object = (fields: Record<string, Spec>): Spec => ({ object: fields });

const SCHEMA_FIELDS: Record<string, Spec> = {
  type: { enum: ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"] },
  format: "string",
  title: "string",
  description: "string",
  nullable: "boolean",
  enum: list("string"),
  maxItems: "integer",
  minItems: "integer",
  properties: { map: "schema" },
  required: list("string"),
  minProperties: "integer",
  maxProperties: "integer",
  minLength: "integer",
  maxLength: "integer",
  pattern: "string",
  example: "any",
  anyOf: list("schema"),
  propertyOrdering: list("string"),
  default: "any",
  items: "schema",
  minimum: "number",
  maximum: "number",
};

const CONTENT = object({
  role: "string",
  parts: list(
    object({
      text: "string",
      thought: "boolean",
      thoughtSignature: "bytes",
      inlineData: object({ mimeType: "string", data: "bytes" }),
      fileData: object({ mimeType: "string", fileUri: "string" }),
      functionCall: object({ id: "string", name: "string", args: "any" }),
      functionResponse: object({ id: "string", name: "string", response: "any", willContinue: "boolean", scheduling: "string", parts: "any" }),
      executableCode: object({ language: "string", code: "string" }),
      codeExecutionResult: object({ outcome: "string", output: "string" }),
      videoMetadata: object({ startOffset: "string", endOffset: "string", fps: "number" }),
      partMetadata: "any",
      mediaResolution: "any",
    }),
  ),
});

const GENERATE_CONTENT: Spec = object({
  model: "string",
  contents: list(CONTENT),
  systemInstruction: CONTENT,
  tools: list(
    object({
      functionDeclarations: list(
        object({
          name: "string",
          description: "string",
          behavior: "string",
          parameters: "schema",
          parametersJsonSchema: "any",
          response: "schema",
          responseJsonSchema: "any",
        }),
      ),
      googleSearchRetrieval: "any",
      codeExecution: "any",
      googleSearch: "any",
      urlContext: "any",
      computerUse: "any",
      fileSearch: "any",
      googleMaps: "any",
    }),
  ),
  toolConfig: object({
    functionCallingConfig: object({ mode: { enum: ["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"] }, allowedFunctionNames: list("string") }),
    retrievalConfig: "any",
  }),
  safetySettings: list(object({ category: "string", threshold: "string", method: "string" })),
  generationConfig: object({
    stopSequences: list("string"),
    responseMimeType: "string",
    responseSchema: "schema",
    responseJsonSchema: "any",
    responseModalities: list("string"),
    candidateCount: "integer",
    maxOutputTokens: "integer",
    temperature: "number",
    topP: "number",
    topK: "integer",
    seed: "integer",
    presencePenalty: "number",
    frequencyPenalty: "number",
    responseLogprobs: "boolean",
    logprobs: "integer",
    enableEnhancedCivicAnswers: "boolean",
    speechConfig: "any",
    thinkingConfig: object({ includeThoughts: "boolean", thinkingBudget: "integer", thinkingLevel: "string" }),
    imageConfig: "any",
    mediaResolution: "string",
  }),
  cachedContent: "string",
  labels: "any",
});

const BATCH_EMBED: Spec = object({
  requests: list(object({ model: "string", content: CONTENT, taskType: "string", title: "string", outputDimensionality: "integer" })),
});

/** Google's documented values that make Gemini 3 skip its signature check. */
export const SKIP_SIGNATURES = ["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"];
export const MAX_EMBED_BATCH = 100;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$/;

const invalid = (message: string, details?: Json[]): GeminiRefusal => ({ status: 400, statusText: "INVALID_ARGUMENT", message, details });
const unknownName = (name: string, at: string) =>
  invalid(`Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ""}: Cannot find field.`);
const badValue = (at: string, kind: string, value: unknown) => invalid(`Invalid value at '${at}' (${kind}), ${JSON.stringify(value)}`);

/** The first place `value` does not parse as `spec`, in the protobuf parser's words. */
function parse(value: unknown, spec: Spec, at: string): GeminiRefusal | null {
  if (value === null) return null; // protobuf JSON reads null as "not set"
  if (spec === "any") return null;
  if (spec === "schema") return parse(value, { object: SCHEMA_FIELDS }, at);
  if (spec === "string") return typeof value === "string" ? null : badValue(at, "TYPE_STRING", value);
  if (spec === "boolean") return typeof value === "boolean" ? null : badValue(at, "TYPE_BOOL", value);
  if (spec === "number") return typeof value === "number" ? null : badValue(at, "TYPE_FLOAT", value);
  if (spec === "integer") {
    const ok = (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^-?\d+$/.test(value));
    return ok ? null : badValue(at, "TYPE_INT32", value);
  }
  if (spec === "bytes")
    return typeof value === "string" && BASE64.test(value)
      ? null
      : invalid(`Invalid value at '${at}' (TYPE_BYTES), Base64 decoding failed for ${JSON.stringify(value)}`);
  if ("enum" in spec) {
    const ok = typeof value === "string" && spec.enum.includes(value.toUpperCase());
    return ok ? null : invalid(`Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(value)}`);
  }
  if ("list" in spec) {
    if (!Array.isArray(value)) return invalid(`Invalid value at '${at}', expected a list: ${JSON.stringify(value)}`);
    for (let i = 0; i < value.length; i++) {
      const refusal = parse(value[i], spec.list, `${at}[${i}]`);
      if (refusal) return refusal;
    }
    return null;
  }
  if (!isObject(value)) return invalid(`Invalid value at '${at}', expected an object: ${JSON.stringify(value)}`);
  if ("map" in spec) {
    const entries = Object.entries(value);
    for (let i = 0; i < entries.length; i++) {
      const refusal = parse(entries[i]![1], spec.map, `${at}[${i}].value`);
      if (refusal) return refusal;
    }
    return null;
  }
  for (const [name, field] of Object.entries(value)) {
    const fieldSpec = spec.object[camel(name)];
    if (!fieldSpec) return unknownName(name, at);
    const refusal = parse(field, fieldSpec, at ? `${at}.${snake(camel(name))}` : snake(camel(name)));
    if (refusal) return refusal;
  }
  return null;
}

/** Reads a field in camelCase or snake_case. */
const field = (value: unknown, name: string): any => (isObject(value) ? (value[name] ?? value[snake(name)]) : undefined);

/** The schema rules beyond parsing: an empty OBJECT properties map, required names that are not properties. */
function schemaRefusal(schema: unknown, at: string): GeminiRefusal | null {
  if (!isObject(schema)) return null;
  const properties = field(schema, "properties");
  const type = String(field(schema, "type") ?? "").toUpperCase();
  if (isObject(properties) && Object.keys(properties).length === 0 && type === "OBJECT") {
    return invalid(`* GenerateContentRequest.${at}.properties: should be non-empty for OBJECT type\n`);
  }
  const required: unknown[] = field(schema, "required") ?? [];
  for (let i = 0; i < required.length; i++) {
    if (!isObject(properties) || !(String(required[i]) in properties))
      return invalid(`* GenerateContentRequest.${at}.required[${i}]: property is not defined\n`);
  }
  const children: [unknown, string][] = [
    ...Object.entries(isObject(properties) ? properties : {}).map(([name, sub]) => [sub, `${at}.properties[${name}]`] as [unknown, string]),
    [field(schema, "items"), `${at}.items`],
    ...((field(schema, "anyOf") ?? []) as unknown[]).map((sub, i) => [sub, `${at}.any_of[${i}]`] as [unknown, string]),
  ];
  for (const [sub, subAt] of children) {
    const refusal = schemaRefusal(sub, subAt);
    if (refusal) return refusal;
  }
  return null;
}

const DATA_FIELDS = ["text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"];

const callKey = (name: unknown, args: unknown) => `${String(name)}\u0000${canonical(args ?? {})}`;
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}
const normalBase64 = (value: string) => value.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");

/** What the API refuses in a parsed generateContent body, beyond unknown fields and types. */
function contentsRefusal(body: Json, signatures: ReadonlyMap<string, string>): GeminiRefusal | null {
  const contents: unknown[] = field(body, "contents") ?? [];
  if (contents.length === 0) return invalid("* GenerateContentRequest.contents: contents is not specified\n");
  for (let i = 0; i < contents.length; i++) {
    const content = contents[i];
    const role = field(content, "role");
    if (role !== undefined && role !== "user" && role !== "model") return invalid("Please use a valid role: user, model.");
    const parts: unknown[] = field(content, "parts") ?? [];
    if (parts.length === 0) return invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`);
    for (let j = 0; j < parts.length; j++) {
      const set = DATA_FIELDS.filter((name) => {
        const value = field(parts[j], name);
        return value !== undefined && value !== null && value !== "";
      });
      if (set.length !== 1) {
        return invalid(
          `* GenerateContentRequest.contents[${i}].parts[${j}].data: ${set.length === 0 ? "required oneof field 'data' must have one initialized field" : "oneof field 'data' is already set"}\n`,
        );
      }
    }
    const calls = parts.filter((part) => field(part, "functionCall"));
    const responses = parts.filter((part) => field(part, "functionResponse")).length;
    if (calls.length > 0) {
      const before = contents[i - 1];
      const afterUser = i > 0 && field(before, "role") !== "model";
      if (!afterUser) return invalid("Please ensure that function call turn comes immediately after a user turn or after a function response turn.");
    }
    if (responses > 0) {
      const before = contents[i - 1];
      const callsBefore = ((field(before, "parts") ?? []) as unknown[]).filter((part) => field(part, "functionCall")).length;
      if (field(before, "role") !== "model" || callsBefore !== responses) {
        return invalid("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.");
      }
    }
    for (let j = 0; j < parts.length; j++) {
      const call = field(parts[j], "functionCall");
      if (!call) continue;
      const sent = signatures.get(callKey(field(call, "name"), field(call, "args")));
      if (!sent) continue;
      const given = field(parts[j], "thoughtSignature");
      const at = `contents[${i}].parts[${j}]`;
      if (given === undefined) {
        return invalid(
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`${field(call, "name")}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
        );
      }
      if (!SKIP_SIGNATURES.includes(given) && normalBase64(given) !== normalBase64(sent)) return invalid(`Corrupted thought signature at ${at}.`);
    }
  }
  return null;
}

function generateRefusal(body: unknown, signatures: ReadonlyMap<string, string>): GeminiRefusal | null {
  const parsed = parse(body, GENERATE_CONTENT, "");
  if (parsed) return parsed;
  const request = body as Json;
  const tools: unknown[] = field(request, "tools") ?? [];
  for (let t = 0; t < tools.length; t++) {
    const declarations: unknown[] = field(tools[t], "functionDeclarations") ?? [];
    for (let d = 0; d < declarations.length; d++) {
      const refusal = schemaRefusal(field(declarations[d], "parameters"), `tools[${t}].function_declarations[${d}].parameters`);
      if (refusal) return refusal;
    }
  }
  const responseSchema = field(field(request, "generationConfig"), "responseSchema");
  const schemaProblem = schemaRefusal(responseSchema, "generation_config.response_schema");
  if (schemaProblem) return schemaProblem;
  const hasFunctions = tools.some((tool) => ((field(tool, "functionDeclarations") ?? []) as unknown[]).length > 0);
  if (field(field(request, "toolConfig"), "functionCallingConfig") && !hasFunctions) {
    return invalid("* GenerateContentRequest.tool_config.function_calling_config: function_calling_config is set without function_declarations.\n");
  }
  return contentsRefusal(request, signatures);
}

function embedRefusal(body: unknown, model: string): GeminiRefusal | null {
  const parsed = parse(body, BATCH_EMBED, "");
  if (parsed) return parsed;
  const requests: unknown[] = field(body, "requests") ?? [];
  if (requests.length === 0) return invalid("* BatchEmbedContentsRequest.requests: requests is not specified\n");
  if (requests.length > MAX_EMBED_BATCH) return invalid(`* BatchEmbedContentsRequest.requests: at most ${MAX_EMBED_BATCH} requests can be in one batch\n`);
  for (let i = 0; i < requests.length; i++) {
    if (field(requests[i], "model") !== `models/${model}`) {
      return invalid(`* BatchEmbedContentsRequest.requests[${i}].model: the model of each request must equal the model of the batch (models/${model})\n`);
    }
    const parts: unknown[] = field(field(requests[i], "content"), "parts") ?? [];
    if (!parts.some((part) => typeof field(part, "text") === "string" && field(part, "text") !== "")) {
      return invalid(`* BatchEmbedContentsRequest.requests[${i}].content.parts: contents.parts must not be empty.\n`);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Answers.

/** A signature for a call, derived from its name and arguments (deterministic, standard base64 with +, / and =). */
export function signatureFor(name: string, args: Json = {}): string {
  const hash = Bun.hash(`gemini-mock:${callKey(name, args)}`);
  const bytes = new Uint8Array(14);
  bytes.set([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff]); // "++++////": the characters base64url changes
  new DataView(bytes.buffer).setBigUint64(6, BigInt.asUintN(64, BigInt(hash)));
  return Buffer.from(bytes).toString("base64");
}

/** The vector the mock gives a text: deterministic, so a test can tell which input a vector is for. */
export function mockEmbedding(text: string, dimensions = 4): number[] {
  const seed = Number(BigInt.asUintN(32, BigInt(Bun.hash(text))));
  return Array.from({ length: dimensions }, (_, i) => (i === 0 ? text.length : ((seed >>> (i * 3)) % 1000) / 1000));
}

export const mockUsage = (prompt: number, candidates: number, thoughts?: number, cached?: number): UsageMetadata => ({
  promptTokenCount: prompt,
  candidatesTokenCount: candidates,
  totalTokenCount: prompt + candidates + (thoughts ?? 0),
  ...(thoughts !== undefined ? { thoughtsTokenCount: thoughts } : {}),
  ...(cached !== undefined ? { cachedContentTokenCount: cached } : {}),
});

const MODEL_VERSION = "gemini-mock-001";
const chunkOf = (parts: Part[], extra: Json = {}, usageMetadata?: UsageMetadata): GenerateContentResponse => ({
  candidates: [{ content: { parts, role: "model" }, index: 0, ...extra }],
  ...(usageMetadata ? { usageMetadata } : {}),
  modelVersion: MODEL_VERSION,
  responseId: "mock-response-1",
});

const pieces = (text: string, count: number) => {
  const size = Math.max(1, Math.ceil(text.length / count));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [""];
};

export const geminiReply = {
  answer: (chunks: GenerateContentResponse[], delayMs?: number): GeminiReply => ({ kind: "answer", chunks, delayMs }),

  /** Text in `chunks` events (thoughts first, when given); STOP and the usage on the last. */
  text(text: string, options: { chunks?: number; thoughts?: string; usage?: UsageMetadata; finishReason?: string } = {}): GeminiReply {
    const usage = options.usage ?? mockUsage(5, text.length > 0 ? 3 : 0);
    const thought = options.thoughts ? [chunkOf([{ text: options.thoughts, thought: true }], {}, usage)] : [];
    const texts = pieces(text, options.chunks ?? 1);
    const chunks = texts.map((piece, i) =>
      chunkOf(piece === "" ? [] : [{ text: piece }], i === texts.length - 1 ? { finishReason: options.finishReason ?? "STOP" } : {}, usage),
    );
    return { kind: "answer", chunks: [...thought, ...chunks] };
  },

  /**
   * Function calls without ids, as Gemini sends them; the first signed (unless `signed` says
   * otherwise). `lateStop`: the calls' event has no finishReason, and STOP comes in the next one
   * with an empty text part, as Gemini 3 streams it.
   */
  calls(calls: ScriptedCall[], options: { text?: string; lateStop?: boolean; usage?: UsageMetadata } = {}): GeminiReply {
    const usage = options.usage ?? mockUsage(20, 8 * calls.length);
    const parts: Part[] = calls.map((call, i) => ({
      functionCall: { name: call.name, args: call.args ?? {} },
      ...((call.signed ?? i === 0) ? { thoughtSignature: signatureFor(call.name, call.args) } : {}),
    }));
    const lead = options.text ? [chunkOf([{ text: options.text }], {}, usage)] : [];
    if (!options.lateStop) return { kind: "answer", chunks: [...lead, chunkOf(parts, { finishReason: "STOP" }, usage)] };
    return { kind: "answer", chunks: [...lead, chunkOf(parts, {}, usage), chunkOf([{ text: "" }], { finishReason: "STOP" }, usage)] };
  },

  /** A prompt Gemini refused to answer: a 200 with promptFeedback.blockReason and no candidates. */
  blocked: (blockReason = "SAFETY"): GeminiReply => ({
    kind: "answer",
    chunks: [
      { promptFeedback: { blockReason }, usageMetadata: { promptTokenCount: 6, totalTokenCount: 6 }, modelVersion: MODEL_VERSION, responseId: "mock-blocked" },
    ],
  }),

  error: (status: number, statusText: string, message: string, details?: Json[], headers?: Record<string, string>): GeminiReply => ({
    kind: "error",
    status,
    statusText,
    message,
    details,
    headers,
  }),

  raw: (chunks: string[], contentType = "text/event-stream"): GeminiReply => ({ kind: "raw", chunks, contentType }),
};

/** The chunks of a stream merged into one whole answer, as generateContent sends it. */
export function mergeChunks(chunks: readonly GenerateContentResponse[]): GenerateContentResponse {
  const merged: GenerateContentResponse = {};
  const candidates = new Map<number, { parts: Part[]; finishReason?: string }>();
  for (const chunk of chunks) {
    for (const [position, candidate] of (chunk.candidates ?? []).entries()) {
      const index = candidate.index ?? position;
      const into = candidates.get(index) ?? { parts: [] };
      candidates.set(index, into);
      for (const part of candidate.content?.parts ?? []) {
        const last = into.parts.at(-1);
        // Text of one kind runs together in a whole answer; a signature ends a run.
        const joins =
          last !== undefined && typeof last.text === "string" && typeof part.text === "string" && !!last.thought === !!part.thought && !last.thoughtSignature;
        if (joins) Object.assign(last, { text: `${last.text}${part.text}` }, part.thoughtSignature ? { thoughtSignature: part.thoughtSignature } : {});
        else if (!(part.text === "" && !part.thoughtSignature)) into.parts.push({ ...part });
      }
      if (candidate.finishReason) into.finishReason = candidate.finishReason;
    }
    if (chunk.promptFeedback) merged.promptFeedback = chunk.promptFeedback;
    if (chunk.usageMetadata) merged.usageMetadata = chunk.usageMetadata;
    if (chunk.modelVersion) merged.modelVersion = chunk.modelVersion;
    if (chunk.responseId) merged.responseId = chunk.responseId;
  }
  if (candidates.size > 0) {
    merged.candidates = [...candidates].map(([index, { parts, finishReason }]) => ({
      content: { parts, role: "model" },
      ...(finishReason ? { finishReason } : {}),
      index,
    }));
  }
  return merged;
}

const PATH = /^\/v1beta\/(?:models|tunedModels)\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/;
const encoder = new TextEncoder();

const errorBody = (refusal: Pick<GeminiRefusal, "status" | "statusText" | "message" | "details">) =>
  JSON.stringify({
    error: { code: refusal.status, message: refusal.message, status: refusal.statusText, ...(refusal.details ? { details: refusal.details } : {}) },
  });

export class MockGemini extends RecordingServer<GeminiRequest, Script> {
  /** Signatures sent on function calls, by call (name + arguments): a replay must carry them back. */
  private readonly signatures = new Map<string, string>();

  /** `apiKey`: the only key accepted; null accepts any key (but one is still required). */
  constructor(readonly apiKey: string | null) {
    super("gemini");
  }

  /** Forgets requests, the script and the signatures sent. */
  override reset(): void {
    super.reset();
    this.signatures.clear();
  }

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const match = PATH.exec(url.pathname);
    const text = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {}
    const model = match?.[1] ?? null;
    const rpc = match?.[2] ?? null;
    const refusal = this.refusal(request, url, match, text, body);
    const recorded: GeminiRequest = {
      method: request.method,
      path: url.pathname + url.search,
      search: url.searchParams,
      headers: new Headers(request.headers),
      model,
      rpc,
      body,
      refusal,
    };
    this.requests.push(recorded);
    if (refusal) return new Response(errorBody(refusal), { status: refusal.status, headers: { "content-type": "application/json; charset=UTF-8" } });

    if (rpc === "batchEmbedContents") {
      const requests: Json[] = field(body, "requests");
      const embeddings = requests.map((item) => ({
        values: mockEmbedding(String(field(field(field(item, "content"), "parts")?.[0], "text")), field(item, "outputDimensionality") ?? undefined),
      }));
      return Response.json({ embeddings });
    }
    const script = this.script ?? geminiReply.text(`hello from gemini mock (${model})`);
    return this.answer(typeof script === "function" ? script(recorded) : script, rpc === "streamGenerateContent", url.searchParams.get("alt") === "sse");
  }

  private refusal(request: Request, url: URL, match: RegExpExecArray | null, text: string, body: unknown): GeminiRefusal | null {
    if (request.method !== "POST" || !match)
      return { status: 404, statusText: "NOT_FOUND", message: `The requested URL ${url.pathname} was not found on this server.` };
    if (url.searchParams.has("key")) {
      return invalid("This mock refuses an API key in the URL (?key=): it ends up in access logs. Send it in the x-goog-api-key header.");
    }
    if (request.headers.has("authorization")) {
      return {
        status: 401,
        statusText: "UNAUTHENTICATED",
        message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
      };
    }
    const key = request.headers.get("x-goog-api-key");
    if (!key) {
      return {
        status: 403,
        statusText: "PERMISSION_DENIED",
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      };
    }
    if (this.apiKey !== null && key !== this.apiKey) {
      return invalid("API key not valid. Please pass a valid API key.", [
        { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" },
      ]);
    }
    if (body === undefined) return invalid(`Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40)}`);
    return match[2] === "batchEmbedContents" ? embedRefusal(body, match[1]!) : generateRefusal(body, this.signatures);
  }

  private answer(reply: GeminiReply, stream: boolean, sse: boolean): Response {
    if (reply.kind === "error") {
      return new Response(errorBody(reply), { status: reply.status, headers: { "content-type": "application/json; charset=UTF-8", ...reply.headers } });
    }
    if (reply.kind === "raw") return this.send(reply.chunks, reply.contentType ?? "text/event-stream", 0);
    // The signatures the answer carries are what a later request must bring back.
    for (const chunk of reply.chunks) {
      for (const candidate of chunk.candidates ?? []) {
        for (const part of candidate.content?.parts ?? []) {
          if (part.functionCall && part.thoughtSignature) this.signatures.set(callKey(part.functionCall.name, part.functionCall.args), part.thoughtSignature);
        }
      }
    }
    if (!stream) return Response.json(mergeChunks(reply.chunks));
    if (!sse) return Response.json(reply.chunks);
    return this.send(
      reply.chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\r\n\r\n`),
      "text/event-stream",
      reply.delayMs ?? 0,
    );
  }

  /** A body written chunk by chunk, each its own write (timers between them). */
  private send(chunks: readonly string[], contentType: string, delayMs: number): Response {
    let timer: Timer | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const next = (i: number) => {
          if (i >= chunks.length) return controller.close();
          controller.enqueue(encoder.encode(chunks[i]!));
          timer = setTimeout(next, delayMs, i + 1);
        };
        next(0);
      },
      cancel() {
        clearTimeout(timer);
      },
    });
    return new Response(body, { headers: { "content-type": contentType } });
  }
}

/** Starts a mock Gemini backend accepting `apiKey` (null: any key) in x-goog-api-key. */
export const startMockGemini = (apiKey: string | null = "gemini-mock-key") => new MockGemini(apiKey).start();
