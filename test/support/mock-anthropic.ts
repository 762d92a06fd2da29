// A mock Anthropic Messages backend on 127.0.0.1 (port 0) that refuses what the real API refuses,
// with its error shape and status, so a translation that would fail against api.anthropic.com
// fails here too: unknown fields (top level, message, block), no max_tokens, a `system` role in
// messages, turns that do not alternate or start with the assistant, empty or whitespace-only
// text, tool_use/tool_result pairs that do not match turn by turn, tool blocks without tools,
// forced tool_choice or sampling settings with thinking, a tool loop replayed without its signed
// thinking, keys in the wrong place (no x-api-key, an Authorization header, a key in the URL), no
// anthropic-version. Every request is recorded (headers, parsed JSON, the refusal if any); answers
// are scripted as content blocks and sent in the API's recorded shapes, whole or streamed (pings,
// input_json_delta pieces, thinking with signature_delta, an error event mid-stream, usage with
// cache tokens). Thinking signatures are derived from the thinking text, so a replayed block
// whose text or signature changed is refused, as the real API refuses it. count_tokens counts
// (a rough count of its own), or answers the scripted error.
import { RecordingServer } from "./recording-server";

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "pause_turn" | "refusal";

export type MockBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id?: string; name: string; input: Record<string, unknown> }
  | { type: "thinking"; thinking: string }
  | { type: "redacted_thinking"; data: string };

export interface MockUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export interface MockAnswer {
  content: MockBlock[];
  /** Default: tool_use when the answer calls a tool, else end_turn. */
  stopReason?: StopReason;
  usage?: MockUsage;
  /** Streams: `ping` events after message_start and between blocks. */
  pings?: boolean;
  /** Streams: the size of each text, thinking and input_json piece (default 5 characters). */
  pieceSize?: number;
  /** Streams: after this many events, an `error` event (default overloaded_error) ends the stream. */
  errorAfterEvents?: number;
  streamError?: { type: string; message: string };
  /** Streams: cut the body into chunks of this many bytes instead of one chunk per event. */
  chunkBytes?: number;
}

export type AnthropicReply =
  | { kind: "answer"; answer: MockAnswer }
  | { kind: "error"; status: number; type: string; message: string; headers?: Record<string, string> }
  /** A raw SSE body, sent as these chunks (cut anywhere, even inside a character) whatever the request asked. */
  | { kind: "sse"; chunks: (string | Uint8Array)[] };

export const anthropicReply = {
  answer: (answer: MockAnswer): AnthropicReply => ({ kind: "answer", answer }),
  text: (text: string, options: Omit<MockAnswer, "content"> = {}): AnthropicReply => ({
    kind: "answer",
    answer: { content: [{ type: "text", text }], ...options },
  }),
  error: (status: number, type: string, message: string, headers?: Record<string, string>): AnthropicReply => ({
    kind: "error",
    status,
    type,
    message,
    headers,
  }),
  sse: (chunks: (string | Uint8Array)[]): AnthropicReply => ({ kind: "sse", chunks }),
};

export interface AnthropicRequest {
  readonly method: string;
  /** pathname + query string, as received */
  readonly path: string;
  readonly headers: Headers;
  /** The parsed JSON body; undefined when it was not JSON. */
  readonly body: any;
  /** What the mock refused the request for, or null when it answered it. */
  readonly refusal: string | null;
}

type Script = AnthropicReply | ((request: AnthropicRequest) => AnthropicReply);

interface Refusal {
  status: number;
  type: string;
  message: string;
}

const MESSAGES_FIELDS = new Set([
  "model",
  "messages",
  "max_tokens",
  "system",
  "metadata",
  "stop_sequences",
  "stream",
  "temperature",
  "top_p",
  "top_k",
  "tools",
  "tool_choice",
  "thinking",
  "output_config",
  "service_tier",
  "container",
  "mcp_servers",
  "context_management",
]);
const COUNT_FIELDS = new Set(["model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management"]);
const BLOCK_FIELDS: Record<string, Set<string>> = {
  text: new Set(["type", "text", "cache_control", "citations"]),
  image: new Set(["type", "source", "cache_control"]),
  tool_use: new Set(["type", "id", "name", "input", "cache_control"]),
  tool_result: new Set(["type", "tool_use_id", "content", "is_error", "cache_control"]),
  thinking: new Set(["type", "thinking", "signature"]),
  redacted_thinking: new Set(["type", "data"]),
};
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const SIGNING_KEY = "mock-anthropic-signing-key";

/** The signature the mock gives a thinking text, and checks on replay. */
export const signatureOf = (thinking: string) => `EqMB${Bun.hash(SIGNING_KEY + thinking).toString(36)}`;

const isRecord = (value: unknown): value is Record<string, any> => typeof value === "object" && value !== null && !Array.isArray(value);
const blank = (text: unknown) => typeof text !== "string" || text.trim() === "";
const invalid = (message: string): Refusal => ({ status: 400, type: "invalid_request_error", message });

/** Why the real API would refuse these headers and URL, or null. */
function headerRefusal(url: URL, headers: Headers, apiKey: string | null): Refusal | null {
  for (const [name, value] of url.searchParams) {
    if (/key|token|secret|auth/i.test(name) || (apiKey !== null && value === apiKey)) return invalid("an API key must not be sent in the URL");
  }
  if (headers.has("authorization"))
    return { status: 401, type: "authentication_error", message: "the Authorization header is not accepted: send the key in x-api-key" };
  const key = headers.get("x-api-key");
  if (!key) return { status: 401, type: "authentication_error", message: "x-api-key header is required" };
  if (apiKey !== null && key !== apiKey) return { status: 401, type: "authentication_error", message: "invalid x-api-key" };
  if (!headers.get("anthropic-version")) return invalid("anthropic-version: header is required");
  return null;
}

/** Why the real API would refuse this body, or null. */
export function bodyRefusal(body: unknown, endpoint: "messages" | "count_tokens"): Refusal | null {
  if (!isRecord(body)) return invalid("There was an error parsing the body of your request");
  const fields = endpoint === "messages" ? MESSAGES_FIELDS : COUNT_FIELDS;
  for (const key of Object.keys(body)) if (!fields.has(key)) return invalid(`${key}: Extra inputs are not permitted`);
  if (typeof body.model !== "string" || body.model === "") return invalid("model: Field required");
  if (endpoint === "messages" && !(Number.isInteger(body.max_tokens) && body.max_tokens >= 1)) return invalid("max_tokens: Field required");
  return systemRefusal(body.system) ?? messagesRefusal(body.messages) ?? samplingRefusal(body) ?? toolsRefusal(body) ?? thinkingRefusal(body) ?? null;
}

function systemRefusal(system: unknown): Refusal | null {
  if (system === undefined || typeof system === "string") return null;
  if (!Array.isArray(system)) return invalid("system: Input should be a valid string or list");
  for (const [i, block] of system.entries()) {
    if (!isRecord(block) || block.type !== "text") return invalid(`system.${i}.type: Input should be 'text'`);
    const refusal = blockRefusal(block, `system.${i}`, "system", false);
    if (refusal) return refusal;
  }
  return null;
}

function messagesRefusal(messages: unknown): Refusal | null {
  if (!Array.isArray(messages) || messages.length === 0) return invalid("messages: at least one message is required");
  const usedIds = new Set<string>();
  for (const [i, message] of messages.entries()) {
    if (!isRecord(message)) return invalid(`messages.${i}: Input should be a valid dictionary`);
    for (const key of Object.keys(message)) if (key !== "role" && key !== "content") return invalid(`messages.${i}.${key}: Extra inputs are not permitted`);
    if (message.role === "system") {
      return invalid('Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.');
    }
    if (message.role !== "user" && message.role !== "assistant") return invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (i === 0 && message.role !== "user") return invalid('messages: first message must use the "user" role');
    if (i > 0 && messages[i - 1].role === message.role) {
      return invalid(`messages: roles must alternate between "user" and "assistant", but found multiple "${message.role}" roles in a row`);
    }
    const final = i === messages.length - 1 && message.role === "assistant";
    const refusal = contentRefusal(message.content, `messages.${i}`, message.role, final, usedIds);
    if (refusal) return refusal;
  }
  return pairingRefusal(messages);
}

function contentRefusal(content: unknown, at: string, role: "user" | "assistant", final: boolean, usedIds: Set<string>): Refusal | null {
  if (typeof content === "string") {
    if (blank(content) && !(final && content === ""))
      return invalid(`${at}: all messages must have non-empty content except for the optional final assistant message`);
    if (final && content !== content.trimEnd()) return invalid("messages: final assistant content cannot end with trailing whitespace");
    return null;
  }
  if (!Array.isArray(content)) return invalid(`${at}.content: Input should be a valid list`);
  if (content.length === 0 && !final) return invalid(`${at}: all messages must have non-empty content except for the optional final assistant message`);
  let beforeResults = true;
  let beforeAnswer = true;
  for (const [j, block] of content.entries()) {
    const where = `${at}.content.${j}`;
    const refusal = blockRefusal(block, where, role, final && j === content.length - 1);
    if (refusal) return refusal;
    if (block.type === "tool_use") {
      if (usedIds.has(block.id)) return invalid(`${where}: \`tool_use\` ids must be unique`);
      usedIds.add(block.id);
    }
    const result = block.type === "tool_result";
    const thought = block.type === "thinking" || block.type === "redacted_thinking";
    if (result && !beforeResults) return invalid(`${where}: tool_result blocks must come first in a user message, before any other content`);
    if (thought && !beforeAnswer) return invalid(`${where}: thinking blocks must come first in an assistant message`);
    if (!result) beforeResults = false;
    if (!thought) beforeAnswer = false;
  }
  return null;
}

const ROLE_BLOCKS: Record<string, Set<string>> = {
  user: new Set(["text", "image", "tool_result"]),
  assistant: new Set(["text", "tool_use", "thinking", "redacted_thinking"]),
  system: new Set(["text"]),
  tool_result: new Set(["text", "image"]),
};

function blockRefusal(block: unknown, at: string, role: string, finalBlock: boolean): Refusal | null {
  if (!isRecord(block) || typeof block.type !== "string" || !BLOCK_FIELDS[block.type]) {
    return invalid(`${at}.type: Input tag '${isRecord(block) ? block.type : block}' found using 'type' does not match any of the expected tags`);
  }
  if (!ROLE_BLOCKS[role]!.has(block.type))
    return invalid(`${at}.type: a '${block.type}' block is not allowed in ${role === "tool_result" ? "a tool_result" : `a ${role} message`}`);
  for (const key of Object.keys(block)) if (!BLOCK_FIELDS[block.type]!.has(key)) return invalid(`${at}.${block.type}.${key}: Extra inputs are not permitted`);
  switch (block.type) {
    case "text":
      if (blank(block.text)) return invalid("messages: text content blocks must contain non-whitespace text");
      if (finalBlock && block.text !== block.text.trimEnd()) return invalid("messages: final assistant content cannot end with trailing whitespace");
      return null;
    case "image": {
      const source = block.source;
      if (isRecord(source) && source.type === "base64") {
        if (!IMAGE_TYPES.has(source.media_type)) {
          return invalid(`${at}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
        }
        if (typeof source.data !== "string" || source.data === "") return invalid(`${at}.source.base64.data: Field required`);
        return null;
      }
      if (isRecord(source) && source.type === "url" && typeof source.url === "string") return null;
      return invalid(`${at}.source: Input tag does not match any of the expected tags: 'base64', 'url'`);
    }
    case "tool_use":
      if (typeof block.id !== "string" || !TOOL_ID.test(block.id)) return invalid(`${at}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      if (typeof block.name !== "string" || !TOOL_NAME.test(block.name))
        return invalid(`${at}.tool_use.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (!isRecord(block.input)) return invalid(`${at}.tool_use.input: Input should be a valid dictionary`);
      return null;
    case "tool_result": {
      if (typeof block.tool_use_id !== "string" || !TOOL_ID.test(block.tool_use_id))
        return invalid(`${at}.tool_result.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      if (block.content === undefined || typeof block.content === "string") return null;
      if (!Array.isArray(block.content)) return invalid(`${at}.tool_result.content: Input should be a valid string or list`);
      for (const [k, inner] of block.content.entries()) {
        const refusal = blockRefusal(inner, `${at}.content.${k}`, "tool_result", false);
        if (refusal) return refusal;
      }
      return null;
    }
    case "thinking":
      if (typeof block.thinking !== "string" || typeof block.signature !== "string" || block.signature !== signatureOf(block.thinking)) {
        return invalid(`${at}: Invalid \`signature\` in \`thinking\` block`);
      }
      return null;
    default:
      return null;
  }
}

/** Every tool_use answered in the very next (user) message, every tool_result answering the message just before. */
function pairingRefusal(messages: any[]): Refusal | null {
  for (const [i, message] of messages.entries()) {
    const blocks: any[] = Array.isArray(message.content) ? message.content : [];
    if (message.role === "assistant") {
      const ids = blocks.filter((block) => block.type === "tool_use").map((block) => block.id);
      if (ids.length === 0) continue;
      const next = messages[i + 1];
      const answered = new Set((Array.isArray(next?.content) ? next.content : []).filter((b: any) => b.type === "tool_result").map((b: any) => b.tool_use_id));
      const missing = ids.filter((id) => !answered.has(id));
      if (missing.length > 0) {
        return invalid(
          `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
      continue;
    }
    const previous: any[] = Array.isArray(messages[i - 1]?.content) ? messages[i - 1].content : [];
    const open = new Set(previous.filter((block) => block.type === "tool_use").map((block) => block.id));
    for (const [j, block] of blocks.entries()) {
      if (block.type !== "tool_result") continue;
      if (!open.delete(block.tool_use_id)) {
        return invalid(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
  }
  return null;
}

function samplingRefusal(body: Record<string, any>): Refusal | null {
  const { temperature, top_p: topP, top_k: topK, stop_sequences: stops, metadata, stream } = body;
  if (temperature !== undefined && !(typeof temperature === "number" && temperature >= 0 && temperature <= 1)) {
    return invalid("temperature: Input should be less than or equal to 1");
  }
  if (topP !== undefined && !(typeof topP === "number" && topP >= 0 && topP <= 1)) return invalid("top_p: Input should be less than or equal to 1");
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) return invalid("top_k: Input should be a valid integer");
  if (temperature !== undefined && topP !== undefined)
    return invalid("`temperature` and `top_p` cannot both be specified for this model. Please use only one.");
  if (stops !== undefined) {
    if (!Array.isArray(stops)) return invalid("stop_sequences: Input should be a valid list");
    if (stops.some(blank)) return invalid("stop_sequences: each stop sequence must contain non-whitespace");
  }
  if (metadata !== undefined) {
    if (!isRecord(metadata)) return invalid("metadata: Input should be a valid dictionary");
    for (const key of Object.keys(metadata)) if (key !== "user_id") return invalid(`metadata.${key}: Extra inputs are not permitted`);
    if (metadata.user_id !== undefined && typeof metadata.user_id !== "string") return invalid("metadata.user_id: Input should be a valid string");
  }
  if (stream !== undefined && typeof stream !== "boolean") return invalid("stream: Input should be a valid boolean");
  return null;
}

function toolsRefusal(body: Record<string, any>): Refusal | null {
  const { tools, tool_choice: choice } = body;
  const hasTools = Array.isArray(tools) && tools.length > 0;
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return invalid("tools: Input should be a valid list");
    for (const [i, tool] of tools.entries()) {
      if (!isRecord(tool)) return invalid(`tools.${i}: Input should be a valid dictionary`);
      for (const key of Object.keys(tool)) {
        if (!["name", "description", "input_schema", "cache_control", "type"].includes(key))
          return invalid(`tools.${i}.custom.${key}: Extra inputs are not permitted`);
      }
      if (tool.type !== undefined && tool.type !== "custom") return invalid(`tools.${i}.type: unknown tool type '${tool.type}'`);
      if (typeof tool.name !== "string" || !TOOL_NAME.test(tool.name))
        return invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (!isRecord(tool.input_schema) || tool.input_schema.type !== "object") return invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
      if (tool.description !== undefined && typeof tool.description !== "string")
        return invalid(`tools.${i}.custom.description: Input should be a valid string`);
    }
  }
  if (choice !== undefined) {
    if (!hasTools) return invalid("tool_choice may only be specified while providing tools");
    if (!isRecord(choice) || !["auto", "any", "tool", "none"].includes(choice.type))
      return invalid("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
    const allowed =
      choice.type === "tool" ? ["type", "name", "disable_parallel_tool_use"] : choice.type === "none" ? ["type"] : ["type", "disable_parallel_tool_use"];
    for (const key of Object.keys(choice)) if (!allowed.includes(key)) return invalid(`tool_choice.${choice.type}.${key}: Extra inputs are not permitted`);
    if (choice.type === "tool" && !tools.some((tool: any) => tool.name === choice.name))
      return invalid(`tool_choice.tool.name: tool '${choice.name}' is not in tools`);
  }
  const messages: any[] = body.messages;
  const usesToolBlocks = messages.some(
    (message) => Array.isArray(message.content) && message.content.some((b: any) => b.type === "tool_use" || b.type === "tool_result"),
  );
  if (usesToolBlocks && !hasTools) return invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.");
  return null;
}

/** The mock's model names that think adaptively (4.6 on), and those that take nothing else (Opus 4.7 on). */
const ADAPTIVE_MODEL = /claude-[a-z]+-(4-[6-9]|[5-9])(?=$|[-@])/;
const ADAPTIVE_ONLY_MODEL = /claude-(opus-4-[7-9]|[a-z]+-[5-9])(?=$|[-@])/;

function thinkingRefusal(body: Record<string, any>): Refusal | null {
  const { thinking } = body;
  if (thinking === undefined) return null;
  if (!isRecord(thinking)) return invalid("thinking: Input should be a valid dictionary");
  if (thinking.type === "disabled" && Object.keys(thinking).length === 1) return null;
  const effort = body.output_config?.effort;
  if (effort !== undefined && !["low", "medium", "high", "max"].includes(effort))
    return invalid("output_config.effort: Input should be 'low', 'medium', 'high' or 'max'");
  if (thinking.type === "adaptive") {
    if (Object.keys(thinking).length !== 1) return invalid("thinking.adaptive: Extra inputs are not permitted");
    // Adaptive thinking came with Claude 4.6: the earlier models refuse it.
    if (!ADAPTIVE_MODEL.test(body.model)) return invalid(`thinking.type 'adaptive' is not supported by ${body.model}`);
  } else {
    if (thinking.type !== "enabled") return invalid("thinking.type: Input tag does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'");
    // From Opus 4.7 on, a fixed budget is refused.
    if (ADAPTIVE_ONLY_MODEL.test(body.model)) return invalid(`thinking.type 'enabled' is not supported by ${body.model}; use 'adaptive'`);
    for (const key of Object.keys(thinking))
      if (key !== "type" && key !== "budget_tokens") return invalid(`thinking.enabled.${key}: Extra inputs are not permitted`);
    if (!(Number.isInteger(thinking.budget_tokens) && thinking.budget_tokens >= 1024))
      return invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
    if (body.max_tokens !== undefined && thinking.budget_tokens >= body.max_tokens)
      return invalid("`max_tokens` must be greater than `thinking.budget_tokens`");
  }
  if (body.tool_choice?.type === "any" || body.tool_choice?.type === "tool") return invalid("Thinking may not be enabled when tool_choice forces tool use.");
  if (body.temperature !== undefined && body.temperature !== 1) return invalid("`temperature` may only be set to 1 when thinking is enabled.");
  if (body.top_k !== undefined) return invalid("`top_k` cannot be set when thinking is enabled.");
  if (body.top_p !== undefined && body.top_p < 0.95) return invalid("`top_p` must be greater than or equal to 0.95 when thinking is enabled.");
  const messages: any[] = body.messages;
  const lastAssistant = messages.findLastIndex((message) => message.role === "assistant");
  const content: any[] = Array.isArray(messages[lastAssistant]?.content) ? messages[lastAssistant].content : [];
  if (content.some((block) => block.type === "tool_use") && content[0]?.type !== "thinking" && content[0]?.type !== "redacted_thinking") {
    return invalid(
      `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${content[0]?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`,
    );
  }
  return null;
}

// ---- answers, in the API's recorded shapes --------------------------------------------------

let serial = 0;

interface Rendered {
  id: string;
  blocks: Record<string, unknown>[];
  stopReason: StopReason;
  usage: Required<MockUsage>;
}

function render(answer: MockAnswer): Rendered {
  const n = ++serial;
  let tool = 0;
  const blocks = answer.content.map((block): Record<string, unknown> => {
    switch (block.type) {
      case "tool_use":
        return { type: "tool_use", id: block.id ?? `toolu_mock${n}_${++tool}`, name: block.name, input: block.input };
      case "thinking":
        return { type: "thinking", thinking: block.thinking, signature: signatureOf(block.thinking) };
      default:
        return { ...block };
    }
  });
  const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, ...answer.usage };
  const stopReason = answer.stopReason ?? (blocks.some((block) => block.type === "tool_use") ? "tool_use" : "end_turn");
  return { id: `msg_mock${n}`, blocks, stopReason, usage };
}

/** The JSON body of a non-streamed answer. */
export function messageBody(answer: MockAnswer, model: string) {
  const { id, blocks, stopReason, usage } = render(answer);
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: blocks,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
      service_tier: "standard",
    },
  };
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const pieces = (text: string, size: number) => {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
};

/** The events of a streamed answer, each a complete `event:`/`data:` SSE event. */
export function streamEvents(answer: MockAnswer, model: string): string[] {
  const { id, blocks, stopReason, usage } = render(answer);
  const size = answer.pieceSize ?? 5;
  const ping = () => (answer.pings ? [sse("ping", { type: "ping" })] : []);
  const events = [
    sse("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens,
          cache_read_input_tokens: usage.cache_read_input_tokens,
          output_tokens: 1,
          service_tier: "standard",
        },
      },
    }),
  ];
  blocks.forEach((block, index) => {
    const delta = (value: Record<string, unknown>) => sse("content_block_delta", { type: "content_block_delta", index, delta: value });
    switch (block.type) {
      case "text":
        events.push(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }), ...ping());
        for (const piece of pieces(block.text as string, size)) events.push(delta({ type: "text_delta", text: piece }));
        break;
      case "tool_use":
        events.push(
          sse("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }),
        );
        // The API opens every tool input with an empty piece; a tool without input gets only that.
        events.push(delta({ type: "input_json_delta", partial_json: "" }));
        if (Object.keys(block.input as object).length > 0)
          for (const piece of pieces(JSON.stringify(block.input), size)) events.push(delta({ type: "input_json_delta", partial_json: piece }));
        break;
      case "thinking":
        events.push(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
        for (const piece of pieces(block.thinking as string, size)) events.push(delta({ type: "thinking_delta", thinking: piece }));
        events.push(delta({ type: "signature_delta", signature: block.signature }));
        break;
      case "redacted_thinking":
        events.push(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "redacted_thinking", data: block.data } }));
        break;
    }
    events.push(sse("content_block_stop", { type: "content_block_stop", index }), ...ping());
  });
  events.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        output_tokens: usage.output_tokens,
      },
    }),
    sse("message_stop", { type: "message_stop" }),
  );
  if (answer.errorAfterEvents !== undefined) {
    const error = answer.streamError ?? { type: "overloaded_error", message: "Overloaded" };
    return [...events.slice(0, answer.errorAfterEvents), sse("error", { type: "error", error })];
  }
  return events;
}

const errorBody = (type: string, message: string) => ({ type: "error", error: { type, message }, request_id: `req_mock${++serial}` });

export class MockAnthropic extends RecordingServer<AnthropicRequest, Script> {
  constructor(private readonly apiKey: string | null = null) {
    super("anthropic");
  }

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const endpoint = url.pathname === "/v1/messages" ? "messages" : url.pathname === "/v1/messages/count_tokens" ? "count_tokens" : null;
    const refusal =
      request.method !== "POST" || endpoint === null
        ? { status: 404, type: "not_found_error", message: `${request.method} ${url.pathname} not found` }
        : (headerRefusal(url, request.headers, this.apiKey) ?? bodyRefusal(body, endpoint));
    const recorded: AnthropicRequest = {
      method: request.method,
      path: url.pathname + url.search,
      headers: new Headers(request.headers),
      body,
      refusal: refusal?.message ?? null,
    };
    this.requests.push(recorded);
    if (refusal) return Response.json(errorBody(refusal.type, refusal.message), { status: refusal.status });
    const script = this.script ?? anthropicReply.text("Hello from mock Anthropic");
    const reply = typeof script === "function" ? script(recorded) : script;
    // count_tokens counts, unless the script says the API fails (an overload hits both endpoints).
    if (endpoint === "count_tokens" && reply.kind !== "error")
      return Response.json({ input_tokens: Math.max(1, Math.ceil(JSON.stringify((body as any).messages).length / 4)) });
    const model = (body as { model: string }).model;
    switch (reply.kind) {
      case "error":
        return Response.json(errorBody(reply.type, reply.message), { status: reply.status, headers: reply.headers });
      case "sse":
        return sseResponse(reply.chunks);
      case "answer": {
        if ((body as { stream?: boolean }).stream !== true)
          return Response.json(messageBody(reply.answer, model), { headers: { "request-id": `req_mock${serial}` } });
        const events = streamEvents(reply.answer, model);
        const size = reply.answer.chunkBytes;
        return sseResponse(size ? cut(events.join(""), size) : events);
      }
    }
  }
}

/** `text`'s UTF-8 bytes in chunks of `size` bytes. */
export function cut(text: string, size: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

function sseResponse(chunks: (string | Uint8Array)[]): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
        await Bun.sleep(0); // separate writes, as a real stream arrives
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } });
}

/** Starts a mock Anthropic backend; with `apiKey`, any other key is refused. */
export const startMockAnthropic = (apiKey: string | null = null) => new MockAnthropic(apiKey).start();
