// An OpenAI chat completions body → an Anthropic Messages request. Pure: no I/O, no clock. Only
// fields the Messages API knows are written (it refuses unknown ones), and the conversation is
// reshaped into what it accepts: alternating user/assistant turns starting with a user turn, no
// empty text, every tool_use answered in the very next user turn. What cannot be expressed is a
// ProxyError (400) naming the field, thrown before any backend call.
import { invalidRequest } from "../../model/errors";
import { readConversation, restoreThinking, trimPrefill, type ThinkingLookup } from "./conversation";
import { toolsOf } from "./tools";
import type { Effort, MessageParam, MessagesRequest, Thinking } from "./types";
import { effortOf, isCount, isRecord, lookup, type ChatBody } from "./values";

export type { ChatBody } from "./values";

export interface RequestOptions {
  /** The backend's model name. */
  readonly model: string;
  /** `max_tokens` when the client gave none (the API requires one). */
  readonly maxTokens: number;
  /**
   * The signed thinking blocks an earlier answer gave before the tool calls with these ids (the
   * client's ids), if the caller kept them. With thinking on, the API refuses a tool loop whose
   * last assistant turn lacks them, and OpenAI clients never send them back.
   */
  readonly thinkingFor?: ThinkingLookup;
}

/** `reasoning_effort` → thinking budget; "none" turns thinking off. The API's minimum is 1024. */
const THINKING_BUDGET: Readonly<Record<string, number | null>> = {
  none: null,
  minimal: 1024,
  low: 1024,
  medium: 4096,
  high: 16384,
  xhigh: 32768,
};
const MIN_THINKING_BUDGET = 1024;

/**
 * Claude models from 4.6 on size their thinking themselves, steered by an effort level, and from
 * Opus 4.7 on a fixed budget is a 400. Told by the backend's model name: claude-opus-4-6,
 * claude-sonnet-5, anthropic.claude-opus-4-7, claude-mythos-…; not claude-opus-4-20250514 (Opus 4)
 * nor claude-3-7-sonnet.
 */
export function thinksAdaptively(model: string): boolean {
  if (/claude-(mythos|fable)/i.test(model)) return true;
  const version = /claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?=$|[-@:.v])/i.exec(model);
  if (!version) return false;
  const major = Number(version[1]);
  return major > 4 || (major === 4 && Number(version[2] ?? 0) >= 6);
}

/** With thinking on, the API accepts top_p only in [0.95, 1]. */
const MIN_THINKING_TOP_P = 0.95;

/**
 * Looks like an e-mail address: never sent as `metadata.user_id` (personal data to a third party).
 * One character before the `@` says as much as a run of them, and a run tried from every position
 * of a long `user` (the client's to choose) took time quadratic in its length, holding the event loop.
 */
const EMAIL = /[^\s@]@[^\s@]+\.[^\s@]+/;

export function toMessagesRequest(chat: ChatBody, opts: RequestOptions): MessagesRequest {
  if (typeof chat.n === "number" && chat.n > 1) throw invalidRequest("n > 1 is not supported by an Anthropic backend", "n");
  const { system, turns } = readConversation(chat.messages);

  let thinking = thinkingOf(chat, thinksAdaptively(opts.model));
  let maxTokens = maxTokensOf(chat, opts.maxTokens);
  // A pre-filled answer (a final assistant turn: Open WebUI's "Continue response") goes without
  // thinking: with it on, the API wants a final assistant message to start with a thinking block.
  if (thinking && turns.at(-1)?.role === "assistant") thinking = null;
  if (thinking && !restoreThinking(turns, opts.thinkingFor)) thinking = null;
  const budget = thinking?.mode.type === "enabled" ? thinking.mode.budget_tokens : 0;
  if (maxTokens <= budget) maxTokens += budget;
  trimPrefill(turns);

  const request: MessagesRequest = {
    model: opts.model,
    max_tokens: maxTokens,
    messages: turns.map((turn) => ({ role: turn.role, content: turn.blocks }) as MessageParam),
  };
  if (system.length > 0) request.system = system;
  const userId = userIdOf(chat);
  if (userId) request.metadata = { user_id: userId };
  const stops = stopSequences(chat.stop);
  if (stops.length > 0) request.stop_sequences = stops;
  if (chat.stream === true) request.stream = true;
  Object.assign(request, sampling(chat, thinking !== null));
  Object.assign(request, toolsOf(chat, turns, thinking !== null));
  if (thinking) request.thinking = thinking.mode;
  const format = outputFormat(chat.response_format);
  const effort = thinking?.effort;
  if (format || effort) request.output_config = { ...(format && { format }), ...(effort && { effort }) };
  return request;
}

// ---- parameters ---------------------------------------------------------------------------

function maxTokensOf(chat: ChatBody, fallback: number): number {
  const asked = chat.max_completion_tokens ?? chat.max_tokens;
  if (asked === undefined || asked === null) return fallback;
  if (!isCount(asked) || asked < 1) throw invalidRequest("max_tokens must be a positive integer", "max_tokens");
  return asked;
}

/** The thinking a chat asks for, in the form the model takes (a budget, or adaptive with an effort level); null for none. */
function thinkingOf(chat: ChatBody, adaptive: boolean): PlannedThinking | null {
  const effort = chat.reasoning_effort;
  const budget = effort === undefined || effort === null ? undefined : lookup(THINKING_BUDGET, effort);
  if (effort !== undefined && effort !== null && budget === undefined) {
    throw invalidRequest(`reasoning_effort must be one of ${Object.keys(THINKING_BUDGET).join(", ")}`, "reasoning_effort");
  }
  // Anthropic's own spelling, which some OpenAI clients send as an extra field, wins.
  if (isRecord(chat.thinking)) {
    if (chat.thinking.type === "adaptive") return thinkingAt(budget ?? THINKING_BUDGET.medium!, adaptive);
    if (chat.thinking.type !== "enabled") return null;
    const asked = chat.thinking.budget_tokens;
    if (!isCount(asked) || asked < MIN_THINKING_BUDGET)
      throw invalidRequest(`thinking.budget_tokens must be an integer of at least ${MIN_THINKING_BUDGET}`, "thinking");
    return thinkingAt(asked, adaptive);
  }
  return budget === undefined || budget === null ? null : thinkingAt(budget, adaptive);
}

/** Thinking as a request asks for it: `mode` is the request's `thinking`, `effort` goes in its `output_config`. */
interface PlannedThinking {
  readonly mode: Thinking;
  readonly effort?: Effort;
}

/** A budget as the model takes it: as it is, or as the effort level it stands for. */
const thinkingAt = (budget: number, adaptive: boolean): PlannedThinking =>
  adaptive ? { mode: { type: "adaptive" }, effort: effortOf(budget) } : { mode: { type: "enabled", budget_tokens: budget } };

/**
 * temperature clamped to the API's [0, 1]; with thinking on, temperature and top_k are left out
 * and top_p raised to its floor, as the API requires. Newer models refuse temperature and top_p
 * together: temperature wins.
 */
function sampling(chat: ChatBody, thinking: boolean): Pick<MessagesRequest, "temperature" | "top_p" | "top_k"> {
  const out: Pick<MessagesRequest, "temperature" | "top_p" | "top_k"> = {};
  const { temperature, top_p: topP, top_k: topK } = chat;
  if (!thinking && typeof temperature === "number") out.temperature = Math.min(1, Math.max(0, temperature));
  if (typeof topP === "number" && out.temperature === undefined) out.top_p = Math.min(1, Math.max(thinking ? MIN_THINKING_TOP_P : 0, topP));
  if (!thinking && isCount(topK) && topK > 0) out.top_k = topK;
  return out;
}

/** `stop` as stop_sequences; whitespace-only ones are left out (the API refuses them). */
function stopSequences(stop: unknown): string[] {
  const all = typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop : [];
  return all.filter((sequence): sequence is string => typeof sequence === "string" && sequence.trim() !== "");
}

/**
 * `response_format` as structured outputs' format: a json_schema goes as it is (OpenAI's strict
 * schemas are what the API takes); json_object has no Anthropic equivalent and, like text, sends
 * nothing (OpenAI requires its prompt to ask for JSON anyway).
 */
function outputFormat(format: unknown): { type: "json_schema"; schema: Record<string, unknown> } | null {
  if (!isRecord(format) || format.type === "text" || format.type === "json_object") return null;
  if (format.type !== "json_schema") {
    throw invalidRequest(`response_format type '${String(format.type)}' is not one of text, json_object, json_schema`, "response_format.type");
  }
  const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined;
  if (!isRecord(schema)) throw invalidRequest("response_format.json_schema.schema must be a JSON Schema object", "response_format.json_schema.schema");
  return { type: "json_schema", schema };
}

function userIdOf(chat: ChatBody): string | null {
  const user = chat.user ?? chat.safety_identifier;
  return typeof user === "string" && user !== "" && !EMAIL.test(user) ? user : null;
}
