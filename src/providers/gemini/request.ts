// An OpenAI chat completions request → Gemini's generateContent request. Gemini refuses what OpenAI
// takes for granted (a system role in contents, empty text parts, tool results without the
// function's name, a count of results that differs from the calls before them, unknown fields), so
// the body is built from known fields only and every message is placed where Gemini wants it.
import { invalidRequest } from "../../model/errors";
import { audioPart, filePart, imagePart } from "./media";
import { schemaBudget, toGeminiParameters, toGeminiSchema, type SchemaBudget } from "./schema";
import { signatureOf } from "./tool-call-id";
import type { Content, FunctionDeclaration, GenerateContentRequest, GenerationConfig, Part } from "./types";

type Json = Record<string, unknown>;

export interface GeminiRequestOptions {
  /** The backend's model name: `gemini-2.5-flash`, `models/gemini-2.5-flash` or `tunedModels/…`. */
  readonly model: string;
}

export interface GeminiRequest {
  /** Below the target's URL, with the query: never a `key=` (the key goes in `x-goog-api-key`). */
  readonly path: string;
  readonly body: GenerateContentRequest;
  readonly stream: boolean;
}

/**
 * reasoning_effort → thinking budget in tokens. `none` turns thinking off (refused by models that
 * cannot think less, such as 2.5 Pro, which is Gemini's answer to give).
 */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = { none: 0, minimal: 128, low: 1024, medium: 8192, high: 24576 };

/**
 * Google's documented value for a function call Gemini 3 did not make (a conversation begun on
 * another backend, or a client that rewrote the ids): without a signature Gemini 3 refuses the
 * turn; with this one it skips the check.
 */
export const SKIP_SIGNATURE = "skip_thought_signature_validator";

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const numberOf = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
/** A table lookup that never finds Object.prototype's members (`constructor`, `__proto__`) for a client's string. */
const lookup = <T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined =>
  typeof key === "string" && Object.hasOwn(table, key) ? table[key] : undefined;
/** OpenAI's string tool_choice values → Gemini's modes. */
const TOOL_MODES: Readonly<Record<string, "AUTO" | "NONE" | "ANY">> = { auto: "AUTO", none: "NONE", required: "ANY", any: "ANY" };

/** Gemini 3 and later (and names without a version, such as `gemini-flash-latest`) check signatures. */
function checksSignatures(model: string): boolean {
  const major = /gemini-(\d+)/.exec(model)?.[1];
  return major === undefined || Number(major) >= 3;
}

function modelPath(model: string): string {
  const name = model.replace(/^models\//, "");
  return name.includes("/") ? name : `models/${name}`;
}

/** The text of a system, developer or tool message: a string, or text parts joined. */
function textOf(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return "";
  if (!Array.isArray(content)) throw invalidRequest(`${param} must be a string or an array of text parts`, param);
  return content
    .map((part, i) => {
      if (isObject(part) && part.type === "text" && typeof part.text === "string") return part.text;
      throw invalidRequest(`${param}[${i}]: only text parts are allowed here`, `${param}[${i}]`);
    })
    .join("\n");
}

/** A user message's parts. Empty text is left out: Gemini refuses a part with no data. */
function userParts(content: unknown, param: string): Part[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content)) throw invalidRequest(`${param} must be a string or an array of content parts`, param);
  return content.flatMap((part, i): Part[] => {
    const at = `${param}[${i}]`;
    if (!isObject(part)) throw invalidRequest(`${at} must be a content part object`, at);
    switch (part.type) {
      case "text":
        return typeof part.text === "string" && part.text !== "" ? [{ text: part.text }] : [];
      case "image_url":
        return [imagePart(isObject(part.image_url) ? part.image_url.url : part.image_url, `${at}.image_url.url`)];
      case "input_audio":
        return [audioPart(part.input_audio, `${at}.input_audio`)];
      case "file":
        return [filePart(part.file, `${at}.file`)];
      default:
        throw invalidRequest(`${at}: content part type '${String(part.type)}' cannot be sent to Gemini`, `${at}.type`);
    }
  });
}

/** Arguments as Gemini's `args` object: invalid, empty or non-object JSON becomes `{}`. */
function argsOf(value: unknown): Json {
  if (isObject(value)) return value;
  if (typeof value !== "string" || value.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** A tool result as Gemini's `response` object: a JSON object as it is, anything else under `output`. */
function responseOf(text: string): Json {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
  } catch {}
  return { output: text };
}

interface Call {
  readonly id: string;
  readonly name: string;
}

/** Builds `contents` turn by turn, merging consecutive turns of one role and pairing tool calls with their results. */
class Conversation {
  readonly contents: Content[] = [];
  readonly system: string[] = [];
  /** Every tool call made so far, by id: a tool message names only the id, Gemini wants the name. */
  private readonly names = new Map<string, string>();
  /** The calls of the last model turn, which the next user turn must answer, all and only them. */
  private pending: Call[] = [];
  private answers: Map<string, Part> | null = null;

  constructor(private readonly signatures: boolean) {}

  add(message: unknown, i: number): void {
    const at = `messages[${i}]`;
    if (!isObject(message)) throw invalidRequest(`${at} must be an object`, at);
    const { role } = message;
    if (role === "system" || role === "developer") {
      const text = textOf(message.content, `${at}.content`);
      if (text !== "") this.system.push(text);
      return;
    }
    if (role !== "tool" && role !== "function") this.closeAnswers();
    switch (role) {
      case "user":
        this.requireAnswered();
        return this.push("user", userParts(message.content, `${at}.content`));
      case "assistant":
        this.requireAnswered();
        return this.push("model", this.modelParts(message, at));
      case "tool":
        return this.answer(message.tool_call_id, message.content, at);
      case "function":
        return this.answerByName(message.name, message.content, at);
      default:
        throw invalidRequest(`${at}.role '${String(role)}' is not one of system, developer, user, assistant, tool`, `${at}.role`);
    }
  }

  /** The finished contents; a conversation of only system text becomes one user turn (Gemini needs contents). */
  finish(): { contents: Content[]; system: string[] } {
    this.closeAnswers();
    this.requireAnswered();
    if (this.contents.length > 0) return { contents: this.contents, system: this.system };
    if (this.system.length === 0) throw invalidRequest("messages must hold at least one message with content", "messages");
    return { contents: [{ role: "user", parts: this.system.map((text) => ({ text })) }], system: [] };
  }

  private modelParts(message: Json, at: string): Part[] {
    const parts: Part[] = [];
    const { content } = message;
    if (typeof content === "string") {
      if (content !== "") parts.push({ text: content });
    } else if (Array.isArray(content)) {
      content.forEach((part, j) => {
        const text = isObject(part) ? (part.type === "text" ? part.text : part.type === "refusal" ? part.refusal : undefined) : undefined;
        if (typeof text !== "string") throw invalidRequest(`${at}.content[${j}]: an assistant message holds only text parts`, `${at}.content[${j}]`);
        if (text !== "") parts.push({ text });
      });
    }
    const calls: Json[] = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    // The legacy `function_call` is one call without an id: it gets one, so its result finds it by name.
    if (isObject(message.function_call)) calls.push({ id: `function_call_${at}`, function: message.function_call });
    calls.forEach((call, j) => {
      const param = `${at}.tool_calls[${j}]`;
      const fn = isObject(call) && isObject(call.function) ? call.function : undefined;
      if (!fn || typeof fn.name !== "string" || fn.name === "") throw invalidRequest(`${param} needs function.name`, param);
      if (typeof call.id !== "string" || call.id === "") throw invalidRequest(`${param} needs an id`, `${param}.id`);
      const part: Part = { functionCall: { name: fn.name, args: argsOf(fn.arguments) } };
      // Only the first call of a step carries a signature; a call Gemini did not sign gets the skip value.
      const signature = signatureOf(call.id) ?? (j === 0 && this.signatures ? SKIP_SIGNATURE : undefined);
      if (signature) part.thoughtSignature = signature;
      parts.push(part);
      this.names.set(call.id, fn.name);
      this.pending.push({ id: call.id, name: fn.name });
    });
    return parts;
  }

  private answer(id: unknown, content: unknown, at: string): void {
    if (typeof id !== "string") throw invalidRequest(`${at}.tool_call_id is required`, `${at}.tool_call_id`);
    const name = this.names.get(id);
    if (!name) throw invalidRequest(`${at}: tool_call_id '${id}' matches no earlier assistant tool call`, `${at}.tool_call_id`);
    if (!this.pending.some((call) => call.id === id)) {
      throw invalidRequest(`${at}: tool_call_id '${id}' answers a call of an earlier turn; results must follow their assistant message`, `${at}.tool_call_id`);
    }
    this.answers ??= new Map();
    if (this.answers.has(id)) throw invalidRequest(`${at}: tool_call_id '${id}' is answered twice`, `${at}.tool_call_id`);
    this.answers.set(id, { functionResponse: { name, response: responseOf(textOf(content, `${at}.content`)) } });
  }

  /** The legacy `function` role names the function, not a call: it answers the first open call of that name. */
  private answerByName(name: unknown, content: unknown, at: string): void {
    const call = this.pending.find((open) => open.name === name && !this.answers?.has(open.id));
    if (!call) throw invalidRequest(`${at}: no open function call named '${String(name)}' for this result`, `${at}.name`);
    this.answer(call.id, content, at);
  }

  /** The collected results become one user turn, in the order of the calls, one per call. */
  private closeAnswers(): void {
    const answers = this.answers;
    if (!answers) return;
    this.answers = null;
    const missing = this.pending.filter((call) => !answers.has(call.id));
    if (missing.length > 0) throw unanswered(missing);
    const parts = this.pending.map((call) => answers.get(call.id)!);
    this.pending = [];
    this.push("user", parts);
  }

  private requireAnswered(): void {
    if (this.pending.length > 0) throw unanswered(this.pending);
  }

  private push(role: Content["role"], parts: Part[]): void {
    if (parts.length === 0) return;
    const last = this.contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else this.contents.push({ role, parts });
  }
}

const unanswered = (calls: readonly Call[]) =>
  invalidRequest(
    `assistant tool call(s) ${calls.map((call) => `'${call.id}'`).join(", ")} must each be answered by a tool message right after their assistant message`,
    "messages",
  );

function declarations(chat: Json, budget: SchemaBudget): FunctionDeclaration[] {
  const declared: { fn: unknown; param: string }[] = [];
  if (Array.isArray(chat.tools)) {
    chat.tools.forEach((tool, i) => {
      const param = `tools[${i}]`;
      if (!isObject(tool) || tool.type !== "function") throw invalidRequest(`${param}: Gemini backends take only function tools`, `${param}.type`);
      declared.push({ fn: tool.function, param: `${param}.function` });
    });
  }
  if (Array.isArray(chat.functions)) chat.functions.forEach((fn, i) => declared.push({ fn, param: `functions[${i}]` }));
  return declared.map(({ fn, param }) => {
    if (!isObject(fn) || typeof fn.name !== "string" || fn.name === "") throw invalidRequest(`${param}.name is required`, `${param}.name`);
    const declaration: FunctionDeclaration = { name: fn.name };
    if (typeof fn.description === "string" && fn.description !== "") declaration.description = fn.description;
    const parameters = toGeminiParameters(fn.parameters, budget);
    if (parameters) declaration.parameters = parameters;
    return declaration;
  });
}

/** tool_choice (or the legacy function_call) → functionCallingConfig. */
function toolConfig(choice: unknown, names: readonly string[]): GenerateContentRequest["toolConfig"] {
  if (choice === undefined || choice === null) return undefined;
  const mode = lookup(TOOL_MODES, choice);
  if (typeof choice === "string") {
    if (!mode) throw invalidRequest(`tool_choice '${choice}' is not one of auto, none, required`, "tool_choice");
    return { functionCallingConfig: { mode } };
  }
  const name = isObject(choice) ? (isObject(choice.function) ? choice.function.name : choice.name) : undefined;
  if (typeof name !== "string") throw invalidRequest("tool_choice must be auto, none, required or {type:'function', function:{name}}", "tool_choice");
  if (!names.includes(name)) throw invalidRequest(`tool_choice names '${name}', which is not among the tools`, "tool_choice");
  return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [name] } };
}

function generationConfig(chat: Json, budget: SchemaBudget): GenerationConfig | undefined {
  const config: GenerationConfig = {};
  const copied: [keyof GenerationConfig, unknown][] = [
    ["temperature", chat.temperature],
    ["topP", chat.top_p],
    // Not OpenAI's, but Open WebUI sends it when the user sets it.
    ["topK", chat.top_k],
    ["seed", chat.seed],
    ["candidateCount", chat.n],
    ["presencePenalty", chat.presence_penalty],
    ["frequencyPenalty", chat.frequency_penalty],
    ["maxOutputTokens", chat.max_completion_tokens ?? chat.max_tokens],
  ];
  for (const [key, value] of copied) if (numberOf(value) !== undefined) (config as Json)[key] = value;

  const stop = typeof chat.stop === "string" ? [chat.stop] : Array.isArray(chat.stop) ? chat.stop : [];
  const stopSequences = stop.filter((s): s is string => typeof s === "string" && s !== "");
  if (stopSequences.length > 0) config.stopSequences = stopSequences;

  const format = isObject(chat.response_format) ? chat.response_format : undefined;
  if (format?.type === "json_object") config.responseMimeType = "application/json";
  else if (format?.type === "json_schema") {
    config.responseMimeType = "application/json";
    const schema = isObject(format.json_schema) ? format.json_schema.schema : undefined;
    if (isObject(schema)) config.responseSchema = toGeminiSchema(schema, budget);
  } else if (format && format.type !== "text") {
    throw invalidRequest(`response_format type '${String(format.type)}' is not one of text, json_object, json_schema`, "response_format.type");
  }

  const effort = chat.reasoning_effort;
  if (effort !== undefined && effort !== null) {
    const budget = lookup(THINKING_BUDGETS, effort);
    if (budget === undefined) throw invalidRequest(`reasoning_effort must be one of ${Object.keys(THINKING_BUDGETS).join(", ")}`, "reasoning_effort");
    // Thought summaries are asked for so clients can show them as reasoning_content.
    config.thinkingConfig = budget === 0 ? { thinkingBudget: 0 } : { thinkingBudget: budget, includeThoughts: true };
  }
  return Object.keys(config).length > 0 ? config : undefined;
}

/** The Gemini request for an OpenAI chat completions body (`stream: true` picks the SSE endpoint). */
export function toGenerateContentRequest(chat: Json, opts: GeminiRequestOptions): GeminiRequest {
  if (!Array.isArray(chat.messages)) throw invalidRequest("messages must be an array", "messages");
  const conversation = new Conversation(checksSignatures(opts.model));
  chat.messages.forEach((message, i) => conversation.add(message, i));
  const { contents, system } = conversation.finish();

  const body: GenerateContentRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };
  // One budget for every schema of the request: a body may hold thousands of them.
  const budget = schemaBudget();
  const config = generationConfig(chat, budget);
  if (config) body.generationConfig = config;
  const functions = declarations(chat, budget);
  if (functions.length > 0) {
    body.tools = [{ functionDeclarations: functions }];
    const choice = toolConfig(
      chat.tool_choice ?? chat.function_call,
      functions.map((fn) => fn.name),
    );
    if (choice) body.toolConfig = choice;
  }
  const stream = chat.stream === true;
  const method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
  return { path: `v1beta/${modelPath(opts.model)}:${method}`, body, stream };
}
