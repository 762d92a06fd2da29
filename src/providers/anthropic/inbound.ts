// The other direction: an Anthropic Messages request (a client of `POST /v1/messages`) made into an
// OpenAI chat completion request for any other backend, and the chat answer made back into a
// Messages answer, whole or streamed in Anthropic's event order. Pure: no I/O, no proxy state.
import { tokenUsage, type Usage } from "../../model/usage";
import { estimatedOutputTokens } from "../openai/usage";
import { SseReader } from "./sse";
import { effortOf } from "./values";
import type { StopReason } from "./types";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0);

/** The text of a `system` value: a string, or text blocks joined with blank lines. */
function systemText(system: unknown): string {
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) return "";
  return system
    .filter((block) => isObject(block) && block.type === "text" && typeof block.text === "string")
    .map((block) => (block as { text: string }).text)
    .join("\n\n");
}

/** An image block as an OpenAI image part: base64 → a `data:` URL, a url source as is. */
function imagePart(block: Json): Json | null {
  const source = block.source;
  if (!isObject(source)) return null;
  if (source.type === "base64" && typeof source.data === "string") {
    return { type: "image_url", image_url: { url: `data:${String(source.media_type ?? "image/png")};base64,${source.data}` } };
  }
  if (source.type === "url" && typeof source.url === "string") return { type: "image_url", image_url: { url: source.url } };
  return null;
}

/** A tool_result's content as the text of a tool message. */
function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((block) =>
      isObject(block) && block.type === "text" && typeof block.text === "string" ? block.text : isObject(block) && block.type === "image" ? "[image]" : "",
    )
    .filter((text) => text !== "")
    .join("\n");
}

/** User blocks other than tool results, as an OpenAI content value (a string when they are only text). */
function userContent(blocks: Json[]): string | Json[] | null {
  const parts: Json[] = [];
  for (const block of blocks) {
    if (block.type === "text" && typeof block.text === "string") parts.push({ type: "text", text: block.text });
    else if (block.type === "image") {
      const part = imagePart(block);
      if (part) parts.push(part);
    }
  }
  if (parts.length === 0) return null;
  if (parts.every((part) => part.type === "text")) return parts.map((part) => part.text as string).join("\n");
  return parts;
}

function userMessages(content: unknown): Json[] {
  if (typeof content === "string") return [{ role: "user", content }];
  if (!Array.isArray(content)) return [];
  const blocks = content.filter(isObject);
  const out: Json[] = [];
  // Tool results answer the turn before: they come first, as tool messages; the rest follows them.
  for (const block of blocks) {
    if (block.type !== "tool_result") continue;
    const text = toolResultText(block.content);
    out.push({ role: "tool", tool_call_id: String(block.tool_use_id ?? ""), content: block.is_error === true && text === "" ? "error" : text });
  }
  const rest = userContent(blocks.filter((block) => block.type !== "tool_result"));
  if (rest !== null) out.push({ role: "user", content: rest });
  return out;
}

function assistantMessage(content: unknown): Json | null {
  if (typeof content === "string") return { role: "assistant", content };
  if (!Array.isArray(content)) return null;
  const texts: string[] = [];
  const calls: Json[] = [];
  for (const block of content.filter(isObject)) {
    if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
    else if (block.type === "tool_use") {
      calls.push({
        id: String(block.id ?? ""),
        type: "function",
        function: { name: String(block.name ?? ""), arguments: JSON.stringify(isObject(block.input) ? block.input : {}) },
      });
    }
    // Thinking blocks are the backend's own reasoning of that turn: OpenAI's format has no place to send them back.
  }
  const message: Json = { role: "assistant", content: texts.length > 0 ? texts.join("") : null };
  if (calls.length > 0) message.tool_calls = calls;
  if (texts.length === 0 && calls.length === 0) return null;
  return message;
}

function toolChoice(choice: unknown): { tool_choice?: unknown; parallel_tool_calls?: boolean } {
  if (!isObject(choice)) return {};
  const out: { tool_choice?: unknown; parallel_tool_calls?: boolean } = {};
  if (choice.type === "auto") out.tool_choice = "auto";
  else if (choice.type === "any") out.tool_choice = "required";
  else if (choice.type === "none") out.tool_choice = "none";
  else if (choice.type === "tool" && typeof choice.name === "string") out.tool_choice = { type: "function", function: { name: choice.name } };
  if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  return out;
}

/**
 * A tool Anthropic's servers run themselves (web search, web fetch, code execution): no other
 * backend runs it, and offered as a function it would only be called with nobody to answer.
 */
const isServerTool = (tool: Json) => typeof tool.type === "string" && /^(web_search|web_fetch|code_execution)_/.test(tool.type);

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…, told by the backend's model name, as LiteLLM
 * does) refuse `max_tokens` for `max_completion_tokens`, and any temperature or top_p but the
 * default; its models before them refuse `reasoning_effort`.
 */
const OPENAI_REASONING = /(^|\/)(o\d|gpt-5)/i;
const OPENAI_BEFORE_REASONING = /(^|\/)(gpt-3|gpt-4|chatgpt-4)/i;

/** Thinking as `reasoning_effort`: a budget's level, or adaptive thinking's effort (`max` as `high`; none given: `medium`). */
function reasoningEffortOf(thinking: Json, config: unknown): "low" | "medium" | "high" | null {
  if (thinking.type === "enabled") return effortOf(count(thinking.budget_tokens));
  if (thinking.type !== "adaptive") return null;
  const effort = isObject(config) ? config.effort : undefined;
  return effort === "low" || effort === "medium" || effort === "high" ? effort : effort === "max" ? "high" : "medium";
}

/**
 * A Messages request as a chat completion request for `model`. Streams always ask for usage
 * (`include_usage`): the Messages stream reports it in `message_delta`.
 */
export function toChatRequest(body: Json, model: string): Json {
  const messages: Json[] = [];
  const system = systemText(body.system);
  if (system !== "") messages.push({ role: "system", content: system });
  for (const message of Array.isArray(body.messages) ? body.messages.filter(isObject) : []) {
    if (message.role === "assistant") {
      const translated = assistantMessage(message.content);
      if (translated) messages.push(translated);
    } else messages.push(...userMessages(message.content));
  }
  const chat: Json = { model, messages };
  const reasoning = OPENAI_REASONING.test(model);
  if (typeof body.max_tokens === "number") chat[reasoning ? "max_completion_tokens" : "max_tokens"] = body.max_tokens;
  if (typeof body.temperature === "number" && !reasoning) chat.temperature = body.temperature;
  if (typeof body.top_p === "number" && !reasoning) chat.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) chat.stop = body.stop_sequences;
  const tools = Array.isArray(body.tools) ? body.tools.filter((tool) => isObject(tool) && !isServerTool(tool)) : [];
  if (tools.length > 0) {
    chat.tools = tools.map((tool) => ({
      type: "function",
      function: {
        name: String(tool.name ?? ""),
        ...(typeof tool.description === "string" ? { description: tool.description } : {}),
        parameters: isObject(tool.input_schema) ? tool.input_schema : { type: "object", properties: {} },
      },
    }));
    Object.assign(chat, toolChoice(body.tool_choice));
  }
  // Without tools no choice is sent: OpenAI refuses a tool_choice with no tools, and none is the same as no tools.
  const effort = isObject(body.thinking) ? reasoningEffortOf(body.thinking, body.output_config) : null;
  if (effort && !OPENAI_BEFORE_REASONING.test(model)) chat.reasoning_effort = effort;
  if (isObject(body.metadata) && typeof body.metadata.user_id === "string") chat.user = body.metadata.user_id;
  if (body.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/**
 * The documented estimate of a request's input tokens for a backend that cannot count them: a
 * quarter of the characters of the JSON of its `system`, `messages` and `tools`, at least 1.
 */
export function estimateInputTokens(body: Json): number {
  const text = JSON.stringify([body.system ?? null, body.messages ?? [], body.tools ?? null]);
  return Math.max(1, Math.ceil(text.length / 4));
}

interface MessagesUsageOut {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/**
 * Anthropic's usage from OpenAI's: `input_tokens` leaves out the prompt tokens read from the cache
 * and those written to it (`cache_creation_input_tokens`, where the backend reports them).
 */
export function messagesUsage(usage: unknown): MessagesUsageOut {
  if (!isObject(usage)) return { input_tokens: 0, output_tokens: 0 };
  const details = usage.prompt_tokens_details;
  const cached = isObject(details) ? count(details.cached_tokens) : 0;
  const written = count(usage.cache_creation_input_tokens);
  const out: MessagesUsageOut = {
    input_tokens: Math.max(0, count(usage.prompt_tokens) - cached - written),
    output_tokens: count(usage.completion_tokens),
  };
  if (cached > 0) out.cache_read_input_tokens = cached;
  if (written > 0) out.cache_creation_input_tokens = written;
  return out;
}

/** `messagesUsage`, with `estimate` as the input tokens when the backend reported no prompt tokens at all. */
function messagesUsageOrEstimate(usage: unknown, estimate: number): MessagesUsageOut {
  const out = messagesUsage(usage);
  if (out.input_tokens === 0 && !out.cache_read_input_tokens && !out.cache_creation_input_tokens) out.input_tokens = estimate;
  return out;
}

/** The proxy's record of a Messages usage (prompt = input + cache read + cache creation). */
export function usageOfMessages(usage: unknown): Usage | null {
  if (!isObject(usage) || typeof usage.input_tokens !== "number") return null;
  const cached = count(usage.cache_read_input_tokens);
  const written = count(usage.cache_creation_input_tokens);
  const prompt = count(usage.input_tokens) + cached + written;
  const completion = count(usage.output_tokens);
  return tokenUsage(prompt, completion, prompt + completion, cached, written);
}

/** A cut answer is a cut answer, tool call or not: a truncated call's input is not to be run. */
export function stopReasonOf(finish: unknown, madeToolCall: boolean): StopReason {
  if (finish === "length") return "max_tokens";
  if (finish === "content_filter") return "refusal";
  if (madeToolCall || finish === "tool_calls" || finish === "function_call") return "tool_use";
  return "end_turn";
}

const parseInput = (text: string): Json => {
  try {
    const parsed = JSON.parse(text);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
};

let sequence = 0;
export const messageId = () => `msg_${Date.now().toString(36)}${(sequence++).toString(36)}${Math.random().toString(36).slice(2, 10)}`;

/** A whole chat completion as a Messages answer, named `model`. */
export function toMessagesResponse(completion: Json, model: string, estimate: number): Json {
  const choice = Array.isArray(completion.choices) && isObject(completion.choices[0]) ? completion.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: Json[] = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === "string" && reasoning !== "") content.push({ type: "thinking", thinking: reasoning, signature: "" });
  if (typeof message.content === "string" && message.content !== "") content.push({ type: "text", text: message.content });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls.filter(isObject) : [];
  for (const call of calls) {
    const fn = isObject(call.function) ? call.function : {};
    content.push({ type: "tool_use", id: String(call.id ?? messageId()), name: String(fn.name ?? ""), input: parseInput(String(fn.arguments ?? "")) });
  }
  const usage = messagesUsageOrEstimate(completion.usage, estimate);
  // A backend that reports no usage: the output estimated from what it generated, as its record is.
  if (!isObject(completion.usage)) usage.output_tokens = estimatedOutputTokens(completion) ?? 0;
  return {
    id: messageId(),
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReasonOf(choice.finish_reason, calls.length > 0),
    stop_sequence: null,
    usage,
  };
}

/** Anthropic's error type for a status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** Anthropic's error body. */
export const anthropicErrorBody = (status: number, message: string) => JSON.stringify({ type: "error", error: { type: anthropicErrorType(status), message } });

/** Any backend's error body (OpenAI's shape, or anything) in Anthropic's shape, its message kept. */
export function anthropicErrorOf(status: number, body: string): string {
  let message = body.slice(0, 2000) || `The backend answered ${status}`;
  try {
    const parsed = JSON.parse(body);
    if (isObject(parsed) && parsed.type === "error" && isObject(parsed.error)) return body;
    if (isObject(parsed) && isObject(parsed.error) && typeof parsed.error.message === "string") message = parsed.error.message;
    else if (isObject(parsed) && typeof parsed.error === "string") message = parsed.error;
    else if (isObject(parsed) && typeof parsed.message === "string") message = parsed.message;
  } catch {}
  return anthropicErrorBody(status, message);
}

/** The error event a Messages stream ends with when the backend's body broke off. */
export const brokenEvent = () => event("error", { type: "error", error: { type: "api_error", message: "The backend's answer broke off mid-stream" } });

type Block = { kind: "thinking" } | { kind: "text" } | { kind: "tool"; index: number; id: string | null };
/** A tool call that started while another was open: sent whole when the answer ends. */
type QueuedCall = { index: number; id: string | null; name: string; args: string; pieces: number };

const encoder = new TextEncoder();
const event = (name: string, data: Json) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * An OpenAI chat completion stream as a Messages stream, in Anthropic's order: `message_start`,
 * then one content block at a time (start, deltas, stop), then `message_delta` with the stop reason
 * and usage, then `message_stop`. Fed with byte chunks cut anywhere.
 */
export class ChatToMessagesStream {
  private readonly reader = new SseReader();
  private started = false;
  private finished = false;
  private block: Block | null = null;
  private blocks = 0;
  private madeToolCall = false;
  private queued: QueuedCall[] = [];
  private finish: unknown = null;
  private backendUsage: unknown = null;
  /** content_block_delta events sent: the output count of a stream whose backend reported no usage. */
  private deltas = 0;
  private error: { message: string } | null = null;

  constructor(
    private readonly model: string,
    /** `message_start`'s input_tokens: never 0 (Claude Code's accounting breaks on 0). */
    private readonly estimate: number,
  ) {}

  push(chunk: Uint8Array): Uint8Array {
    return encoder.encode(this.read(this.reader.push(chunk)));
  }

  /**
   * What is left when the backend's body ends: the closing events, unless an error ended it. A body
   * that ended before any finish_reason or `[DONE]` was cut off, however cleanly its connection
   * closed: it ends with Anthropic's error event, not as a complete answer.
   */
  end(): Uint8Array {
    let out = this.read(this.reader.end());
    if (!this.finished && this.error === null) {
      if (this.finish !== null) out += this.close();
      else {
        this.error = { message: "The backend's answer ended before it finished (no finish_reason)" };
        out += this.start(null) + event("error", { type: "error", error: { type: "api_error", message: this.error.message } });
      }
    }
    return encoder.encode(out);
  }

  /**
   * Anthropic's error event for a body the relay found broken (cut, or silent too long): the
   * Messages SDKs throw on it, and it is the stream's last event (the relay adds no OpenAI-shaped one).
   */
  broken(): Uint8Array {
    if (this.finished || this.error) return new Uint8Array(0);
    this.error = { message: "The backend's answer broke off mid-stream" };
    return encoder.encode(this.start(null) + brokenEvent());
  }

  /** The backend's error event, if its stream carried one. */
  failure(): { message: string } | null {
    return this.error;
  }

  usage(): Usage | null {
    return usageOfMessages(this.finalUsage());
  }

  /** The usage the chat stream's own usage chunk reported; null when it carried none. */
  reportedUsage(): Usage | null {
    return this.backendUsage === null ? null : this.usage();
  }

  /** The usage message_delta reports: the backend's, or with none, the estimate's input and a token per delta sent. */
  private finalUsage() {
    const usage = messagesUsageOrEstimate(this.backendUsage, this.estimate);
    if (this.backendUsage === null) usage.output_tokens = this.deltas;
    return usage;
  }

  private read(events: { data: string }[]): string {
    let out = "";
    for (const { data } of events) {
      if (this.finished || this.error) break;
      if (data === "[DONE]") {
        out += this.close();
        continue;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        continue;
      }
      if (!isObject(chunk)) continue;
      out += this.chunk(chunk);
    }
    return out;
  }

  private start(usage: unknown): string {
    if (this.started) return "";
    this.started = true;
    const known = messagesUsage(usage);
    const input = known.input_tokens > 0 ? known.input_tokens : this.estimate;
    return event("message_start", {
      type: "message_start",
      message: {
        id: messageId(),
        type: "message",
        role: "assistant",
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: input, output_tokens: 0 },
      },
    });
  }

  private chunk(chunk: Json): string {
    if (isObject(chunk.error) || typeof chunk.error === "string") {
      const message = isObject(chunk.error) ? String(chunk.error.message ?? "The backend failed mid-stream") : String(chunk.error);
      this.error = { message };
      return this.start(null) + event("error", { type: "error", error: { type: "api_error", message } });
    }
    let out = this.start(chunk.usage);
    if (isObject(chunk.usage)) this.backendUsage = chunk.usage;
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null;
    if (!choice) return out;
    const delta = isObject(choice.delta) ? choice.delta : {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === "string" && reasoning !== "") {
      out += this.open({ kind: "thinking" }, { type: "thinking", thinking: "", signature: "" });
      out += this.delta({ type: "thinking_delta", thinking: reasoning });
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      out += this.open({ kind: "text" }, { type: "text", text: "" });
      out += this.delta({ type: "text_delta", text: delta.content });
    }
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls.filter(isObject)) out += this.toolCall(call);
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.finish = choice.finish_reason;
    return out;
  }

  /**
   * One tool-call delta. Calls are told apart by index, or (from backends that give parallel calls no
   * index, or the same one) by id. The first call streams as it comes; another that starts while it is
   * open waits for the end and is sent whole, because a backend that interleaves its calls' deltas
   * (index 0, 1, 0, 1) may still add to the open one, and a block cannot reopen once it has stopped.
   */
  private toolCall(call: Json): string {
    const index = typeof call.index === "number" ? call.index : 0;
    const fn = isObject(call.function) ? call.function : {};
    const id = typeof call.id === "string" ? call.id : null;
    const args = typeof fn.arguments === "string" ? fn.arguments : "";
    const open = this.block?.kind === "tool" ? this.block : null;
    const sameId = (other: string | null) => id === null || other === null || id === other;
    if (open && index === open.index && sameId(open.id)) return this.input(args);
    const queued = this.queued.findLast((waiting) => waiting.index === index);
    if (queued && sameId(queued.id)) {
      queued.args += args;
      if (args !== "") queued.pieces++;
      return "";
    }
    const named = id !== null || typeof fn.name === "string";
    // A delta with another index that names no call: from a backend that numbers one call's pieces oddly.
    if (open && !named) return this.input(args);
    this.madeToolCall = true;
    if (open && index !== open.index) {
      this.queued.push({ index, id, name: String(fn.name ?? ""), args, pieces: args === "" ? 0 : 1 });
      return "";
    }
    return this.startTool(index, id, String(fn.name ?? ""), args);
  }

  /** The calls that waited for the end, each a whole block: its start, all its input in one delta, its stop. */
  private flushQueued(): string {
    let out = "";
    for (const call of this.queued) {
      // The output estimate counts a token per piece the backend sent, as it would have streamed them.
      if (call.pieces > 1) this.deltas += call.pieces - 1;
      out += this.startTool(call.index, call.id, call.name, call.args);
    }
    this.queued = [];
    return out + this.closeBlock();
  }

  /** Closes the open block and starts a tool call's, with its input so far. */
  private startTool(index: number, id: string | null, name: string, args: string): string {
    const out = this.closeBlock();
    this.block = { kind: "tool", index, id };
    const start = event("content_block_start", {
      type: "content_block_start",
      index: this.blocks,
      content_block: { type: "tool_use", id: id ?? `toolu_${messageId()}`, name, input: {} },
    });
    return out + start + this.input(args);
  }

  /** A piece of the open tool call's input (none for an empty one). */
  private input(args: string): string {
    return args === "" ? "" : this.delta({ type: "input_json_delta", partial_json: args });
  }

  /** Opens a block of this kind unless one is open: the open block (if another kind) is closed first. */
  private open(block: Block, content: Json): string {
    if (this.block?.kind === block.kind) return "";
    const out = this.closeBlock();
    this.block = block;
    return out + event("content_block_start", { type: "content_block_start", index: this.blocks, content_block: content });
  }

  private delta(delta: Json): string {
    this.deltas++;
    return event("content_block_delta", { type: "content_block_delta", index: this.blocks, delta });
  }

  private closeBlock(): string {
    if (!this.block) return "";
    this.block = null;
    return event("content_block_stop", { type: "content_block_stop", index: this.blocks++ });
  }

  private close(): string {
    if (this.finished) return "";
    this.finished = true;
    const out = this.start(null) + this.closeBlock() + this.flushQueued();
    const usage = this.finalUsage();
    return (
      out +
      event("message_delta", { type: "message_delta", delta: { stop_reason: stopReasonOf(this.finish, this.madeToolCall), stop_sequence: null }, usage }) +
      event("message_stop", { type: "message_stop" })
    );
  }
}
