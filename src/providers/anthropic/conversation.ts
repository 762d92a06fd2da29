// The OpenAI conversation reshaped into Anthropic turns: system messages lifted out, content parts
// as blocks, tool calls and results as tool_use/tool_result blocks with ids the API accepts, and
// the turn rules the API enforces (and OpenAI does not) met or named in a 400.
import { invalidRequest } from "../../model/errors";
import type { AssistantBlock, CacheControl, ImageBlock, ImageMediaType, ReplayedThinking, TextBlock, ToolResultBlock, ToolUseBlock, UserBlock } from "./types";
import { isRecord, lookup, type Json } from "./values";

export interface Turn {
  role: "user" | "assistant";
  blocks: (UserBlock | AssistantBlock)[];
  /** The client's ids of the tool calls in this (assistant) turn: the key for signed thinking. */
  toolCallIds: string[];
}

/** The signed thinking kept for the tool calls with these (client) ids, if any. */
export type ThinkingLookup = (toolCallIds: readonly string[]) => readonly ReplayedThinking[] | undefined;

const IMAGE_TYPES: ReadonlySet<string> = new Set<ImageMediaType>(["image/jpeg", "image/png", "image/gif", "image/webp"]);
/** Media type spellings clients use for an accepted type. */
const MEDIA_ALIASES: Readonly<Record<string, ImageMediaType>> = { "image/jpg": "image/jpeg" };
/** The API's tool id alphabet; ids from other servers (`functions.Bash:0`) are rewritten into it. */
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
/** Text for a user turn put before a conversation that starts with the assistant, or has only a system prompt (the API requires user first). */
const OPENING_USER_TEXT = ".";

/**
 * The client's messages as system blocks and the turns the API accepts: alternating, starting with
 * the user, no empty text, every tool call answered in the next turn (checked).
 */
export function readConversation(messages: unknown): { system: TextBlock[]; turns: Turn[] } {
  if (!Array.isArray(messages)) throw invalidRequest("messages must be an array", "messages");
  const system: TextBlock[] = [];
  const turns: Turn[] = [];
  const ids = new ToolIds();
  messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message)) throw invalidRequest(`${where} must be an object`, where);
    const push = (role: Turn["role"], blocks: Turn["blocks"], toolCallIds: string[] = []) => turns.push({ role, blocks, toolCallIds });
    switch (message.role) {
      case "system":
      case "developer":
        // The API has one top-level system prompt: every system message goes there, in order.
        system.push(...(contentBlocks(message.content, where, "text") as TextBlock[]));
        return;
      case "user":
        return push("user", contentBlocks(message.content, where, "user"));
      case "assistant":
        return push("assistant", ...assistantBlocks(message, where, ids));
      case "tool":
      case "function":
        return push("user", [toolResult(message, where, ids)]);
      default:
        throw invalidRequest(`${where}.role '${String(message.role)}' cannot be sent to an Anthropic backend`, `${where}.role`);
    }
  });
  const merged = mergeTurns(turns);
  if (merged.length === 0 && system.length === 0) throw invalidRequest("messages must hold at least one user or assistant message with content", "messages");
  // The API wants a user turn first: before an opening assistant turn, or alone under a system prompt (which OpenAI answers).
  if (merged[0]?.role !== "user") merged.unshift({ role: "user", blocks: [{ type: "text", text: OPENING_USER_TEXT }], toolCallIds: [] });
  checkToolPairs(merged);
  return { system, turns: merged };
}

/** Drops turns left without content and joins neighbours of one role: the API wants them alternating. */
function mergeTurns(turns: Turn[]): Turn[] {
  const merged: Turn[] = [];
  for (const turn of turns) {
    if (turn.blocks.length === 0) continue;
    const last = merged.at(-1);
    if (last?.role === turn.role) {
      last.blocks.push(...turn.blocks);
      last.toolCallIds.push(...turn.toolCallIds);
    } else merged.push({ ...turn, blocks: [...turn.blocks], toolCallIds: [...turn.toolCallIds] });
  }
  // In a user turn, tool results come first: the API refuses text before them.
  for (const turn of merged) if (turn.role === "user") turn.blocks.sort((a, b) => Number(b.type === "tool_result") - Number(a.type === "tool_result"));
  return merged;
}

type PartsAllowed = "text" | "user" | "assistant" | "tool";

/** A message's `content` (a string or parts) as blocks; whitespace-only text is left out (the API refuses it). */
function contentBlocks(content: unknown, where: string, allowed: PartsAllowed): (TextBlock | ImageBlock)[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return textBlocks(content);
  if (!Array.isArray(content)) throw invalidRequest(`${where}.content must be a string or an array of parts`, `${where}.content`);
  return content.flatMap((part, j): (TextBlock | ImageBlock)[] => {
    const at = `${where}.content[${j}]`;
    if (!isRecord(part)) throw invalidRequest(`${at} must be an object`, at);
    const cache = cacheControlOf(part.cache_control);
    if (part.type === "text" || (part.type === "refusal" && allowed === "assistant")) {
      const text = part.type === "text" ? part.text : part.refusal;
      if (typeof text !== "string") throw invalidRequest(`${at}.${String(part.type)} must be a string`, at);
      return textBlocks(text, cache);
    }
    if (part.type === "image_url" && (allowed === "user" || allowed === "tool")) return [imageBlock(part.image_url, at, cache)];
    throw invalidRequest(`${at}: a '${String(part.type)}' part cannot be sent to an Anthropic backend here`, at);
  });
}

function textBlocks(text: string, cache?: CacheControl): TextBlock[] {
  if (text.trim() === "") return [];
  return [cache ? { type: "text", text, cache_control: cache } : { type: "text", text }];
}

/** A client's prompt-caching mark (`cache_control` on a part, as Anthropic spells it) is kept. */
function cacheControlOf(value: unknown): CacheControl | undefined {
  if (!isRecord(value) || value.type !== "ephemeral") return undefined;
  return typeof value.ttl === "string" ? { type: "ephemeral", ttl: value.ttl } : { type: "ephemeral" };
}

/** `data:` URLs become base64 sources, http(s) URLs url sources; the API fetches those itself. */
function imageBlock(imageUrl: unknown, at: string, cache?: CacheControl): ImageBlock {
  const url = typeof imageUrl === "string" ? imageUrl : isRecord(imageUrl) && typeof imageUrl.url === "string" ? imageUrl.url : null;
  if (url === null) throw invalidRequest(`${at}.image_url.url must be a string`, at);
  let source: ImageBlock["source"];
  if (url.startsWith("data:")) {
    // indexOf, not a regular expression: a data URL may be megabytes long.
    const comma = url.indexOf(",");
    const params = url.slice(5, comma < 0 ? 5 : comma).split(";");
    const named = params[0]!.trim().toLowerCase();
    const mediaType = lookup(MEDIA_ALIASES, named) ?? named;
    if (comma < 0 || !params.slice(1).some((param) => param.trim().toLowerCase() === "base64")) {
      throw invalidRequest(`${at}: an image data: URL must be base64-encoded`, at);
    }
    if (!IMAGE_TYPES.has(mediaType)) {
      throw invalidRequest(
        `${at}: image type '${named || "(none)"}' is not accepted by Anthropic; use one of ${[...IMAGE_TYPES].join(", ")}`,
        at,
        "unsupported_image_type",
      );
    }
    source = { type: "base64", media_type: mediaType as ImageMediaType, data: url.slice(comma + 1) };
  } else if (/^https?:\/\//i.test(url)) {
    source = { type: "url", url };
  } else {
    throw invalidRequest(`${at}: an image URL must be a data: URL or an http(s) URL`, at);
  }
  return cache ? { type: "image", source, cache_control: cache } : { type: "image", source };
}

function assistantBlocks(message: Json, where: string, ids: ToolIds): [AssistantBlock[], string[]] {
  const blocks: AssistantBlock[] = contentBlocks(message.content, where, "assistant") as TextBlock[];
  const calls: { id: string; name: unknown; args: unknown; at: string }[] = [];
  if (message.tool_calls !== undefined && message.tool_calls !== null) {
    if (!Array.isArray(message.tool_calls)) throw invalidRequest(`${where}.tool_calls must be an array`, `${where}.tool_calls`);
    message.tool_calls.forEach((call, j) => {
      const at = `${where}.tool_calls[${j}]`;
      if (!isRecord(call) || !isRecord(call.function)) throw invalidRequest(`${at} must be a function call`, at);
      if (typeof call.id !== "string") throw invalidRequest(`${at}.id must be a string`, `${at}.id`);
      calls.push({ id: call.id, name: call.function.name, args: call.function.arguments, at });
    });
  }
  if (isRecord(message.function_call)) {
    // The legacy single call carries no id: one is made for it, and the `function` message after it answers it.
    calls.push({
      id: ids.legacy(message.function_call.name),
      name: message.function_call.name,
      args: message.function_call.arguments,
      at: `${where}.function_call`,
    });
  }
  if (calls.length > 0) ids.newTurn();
  for (const call of calls) {
    if (typeof call.name !== "string" || call.name === "") throw invalidRequest(`${call.at}.function.name must be a string`, call.at);
    blocks.push({ type: "tool_use", id: ids.use(call.id), name: call.name, input: toolInput(call.args) } satisfies ToolUseBlock);
  }
  return [blocks, calls.map((call) => call.id)];
}

/** Tool arguments as the input object the API requires: invalid, empty or non-object JSON becomes `{}`. */
function toolInput(args: unknown): Record<string, unknown> {
  if (isRecord(args)) return args;
  if (typeof args !== "string") return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function toolResult(message: Json, where: string, ids: ToolIds): ToolResultBlock {
  let id: string;
  if (message.role === "function") {
    const legacy = ids.answerLegacy(message.name);
    if (legacy === null) throw invalidRequest(`${where}: a 'function' message must follow an assistant function_call of that name`, where);
    id = legacy;
  } else {
    if (typeof message.tool_call_id !== "string") throw invalidRequest(`${where}.tool_call_id must be a string`, `${where}.tool_call_id`);
    id = ids.result(message.tool_call_id);
  }
  const content = contentBlocks(message.content, where, "tool");
  // An empty result is sent without content: an empty text block would be refused.
  return content.length > 0 ? { type: "tool_result", tool_use_id: id, content } : { type: "tool_result", tool_use_id: id };
}

/**
 * Tool-call ids as the API takes them: rewritten into its alphabet (with a hash of the original, so
 * two ids never become one), and unique in the request (some servers reuse `call_0` every turn; the
 * API refuses a repeated id). A result refers to the call of the latest assistant turn with its id.
 */
class ToolIds {
  private readonly used = new Set<string>();
  /** Client id → API id, for the calls of the latest assistant message that made any. */
  private latest = new Map<string, string>();
  private legacyCount = 0;
  private legacyOpen: { name: string; id: string }[] = [];

  /** An assistant message with tool calls: results after it refer to its calls. */
  newTurn(): void {
    this.latest = new Map();
  }

  use(clientId: string): string {
    const base = apiToolId(clientId);
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}_${n}`;
    this.used.add(id);
    this.latest.set(clientId, id);
    return id;
  }

  result(clientId: string): string {
    return this.latest.get(clientId) ?? apiToolId(clientId);
  }

  legacy(name: unknown): string {
    const id = `legacy_call_${++this.legacyCount}`;
    this.legacyOpen.push({ name: String(name), id });
    return id;
  }

  answerLegacy(name: unknown): string | null {
    const index = this.legacyOpen.findIndex((open) => open.name === name);
    if (index < 0) return null;
    return this.legacyOpen.splice(index, 1)[0]!.id;
  }
}

/** An id in the API's alphabet: as it is when it fits, else rewritten with a hash of the original. */
const apiToolId = (clientId: string) => (TOOL_ID.test(clientId) ? clientId : `${clientId.replace(/[^a-zA-Z0-9_-]/g, "_")}_${fnv1a(clientId)}`);

/** A short stable hash (FNV-1a, 32 bits): the same client id maps to the same API id on every instance. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

export const toolUses = (turn: Turn | undefined) =>
  turn?.role === "assistant" ? turn.blocks.filter((block): block is ToolUseBlock => block.type === "tool_use") : [];

/**
 * Every tool call needs its result in the very next user turn, once, and every result its call in
 * the assistant turn just before. The API refuses anything else; OpenAI does too, so such a
 * conversation is the client's mistake, named here rather than by the backend.
 */
function checkToolPairs(turns: Turn[]): void {
  turns.forEach((turn, i) => {
    if (turn.role === "assistant") {
      if (toolUses(turn).length > 0 && turns[i + 1] === undefined) {
        throw invalidRequest(
          `the tool calls ${toolUses(turn)
            .map((use) => use.id)
            .join(", ")} have no tool message answering them`,
          "messages",
        );
      }
      return;
    }
    const open = new Set(toolUses(turns[i - 1]).map((use) => use.id));
    for (const block of turn.blocks) {
      if (block.type !== "tool_result") continue;
      if (!open.delete(block.tool_use_id)) {
        throw invalidRequest(
          `a tool message answers '${block.tool_use_id}', which is not a tool call of the assistant message just before it (or was answered already)`,
          "messages",
        );
      }
    }
    if (open.size > 0) throw invalidRequest(`the tool calls ${[...open].join(", ")} have no tool message answering them`, "messages");
  });
}

/**
 * Puts kept thinking blocks back at the start of each assistant turn that called tools. Returns
 * false when thinking must stay off for this request: the API refuses thinking when the last
 * assistant turn called tools without its signed thinking, and a client that drops unknown fields
 * cannot send it; answering without thinking beats a refusal.
 */
export function restoreThinking(turns: Turn[], thinkingFor: ThinkingLookup | undefined): boolean {
  const restored = new Map<Turn, readonly ReplayedThinking[]>();
  for (const turn of turns) {
    if (turn.role !== "assistant" || turn.toolCallIds.length === 0) continue;
    const blocks = thinkingFor?.(turn.toolCallIds);
    if (blocks && blocks.length > 0) restored.set(turn, blocks);
  }
  const lastAssistant = turns.findLast((turn) => turn.role === "assistant");
  if (lastAssistant && lastAssistant.toolCallIds.length > 0 && !restored.has(lastAssistant)) return false;
  for (const [turn, blocks] of restored) turn.blocks.unshift(...blocks.map((block) => ({ ...block })));
  return true;
}

/** A final assistant turn is a prefill, which the API refuses with trailing whitespace. */
export function trimPrefill(turns: Turn[]): void {
  const last = turns.at(-1);
  if (last?.role !== "assistant") return;
  const block = last.blocks.at(-1);
  if (block?.type !== "text") return;
  block.text = block.text.trimEnd();
}
