// A whole Anthropic Messages answer → an OpenAI chat.completion, and an Anthropic error body → the
// proxy's OpenAI-shaped error with the status a client and the retry logic should see.
import { ProxyError, type OpenAIErrorType } from "../../model/errors";
import type { MessagesResponse, ReplayedThinking, SignedThinking, StopReason, ToolUseBlock } from "./types";
import { openAIUsage, type OpenAIUsage } from "./usage";

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** stop_reason → finish_reason; pause_turn (a server tool paused the turn) ends the answer as it is. */
export const FINISH_REASON: Readonly<Record<StopReason, FinishReason>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

export const finishReasonOf = (stopReason: unknown): FinishReason =>
  typeof stopReason === "string" && Object.hasOwn(FINISH_REASON, stopReason) ? FINISH_REASON[stopReason as StopReason] : "stop";

/** An answer that called tools finishes with tool_calls whatever else it said: clients run the tools on that. */
export const finishOf = (stopReason: unknown, calledTools: boolean): FinishReason => {
  const reason = finishReasonOf(stopReason);
  return reason === "stop" && calledTools ? "tool_calls" : reason;
};

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: [
    {
      index: 0;
      message: { role: "assistant"; content: string | null; reasoning_content?: string; tool_calls?: ToolCall[] };
      logprobs: null;
      finish_reason: FinishReason;
    },
  ];
  usage: OpenAIUsage;
}

export interface CompletionOptions {
  /** The model id the client asked for. */
  readonly model: string;
  /** Unix seconds; now when left out. */
  readonly created?: number;
  /** The completion's id; the message's id when left out. */
  readonly id?: string;
}

export interface TranslatedCompletion {
  readonly completion: ChatCompletion;
  /** The signed thinking of an answer that called tools, to keep for the client's next turn; else null. */
  readonly thinking: SignedThinking | null;
}

export function toChatCompletion(message: MessagesResponse, opts: CompletionOptions): TranslatedCompletion {
  let text = "";
  let reasoning = "";
  const toolCalls: ToolCall[] = [];
  const thinking: ReplayedThinking[] = [];
  for (const block of message.content ?? []) {
    switch (block.type) {
      case "text":
        text += (block as { text: string }).text;
        break;
      case "thinking": {
        const { thinking: thought, signature } = block as ReplayedThinking & { type: "thinking" };
        reasoning += thought;
        thinking.push({ type: "thinking", thinking: thought, signature });
        break;
      }
      case "redacted_thinking":
        thinking.push({ type: "redacted_thinking", data: (block as { data: string }).data });
        break;
      case "tool_use": {
        const use = block as ToolUseBlock;
        toolCalls.push({ id: use.id, type: "function", function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } });
        break;
      }
      // Server tool blocks and anything newer carry nothing an OpenAI client can use.
    }
  }
  const reply: ChatCompletion["choices"][0]["message"] = { role: "assistant", content: text === "" && toolCalls.length > 0 ? null : text };
  if (reasoning !== "") reply.reasoning_content = reasoning;
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  const completion: ChatCompletion = {
    id: opts.id ?? message.id,
    object: "chat.completion",
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: opts.model,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishOf(message.stop_reason, toolCalls.length > 0) }],
    usage: openAIUsage(message.usage ?? {}),
  };
  const signed = toolCalls.length > 0 && thinking.length > 0 ? { toolCallIds: toolCalls.map((call) => call.id), blocks: thinking } : null;
  return { completion, thinking: signed };
}

// ---- errors ---------------------------------------------------------------------------------

interface ErrorKind {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly code: string | null;
}

/**
 * Anthropic's error types with the status the proxy answers and the OpenAI type and code it
 * shows. Overloaded (529, a status no OpenAI client knows) becomes 503: retryable for the proxy
 * and for SDKs alike.
 */
const ERROR_KINDS: Readonly<Record<string, ErrorKind>> = {
  invalid_request_error: { status: 400, type: "invalid_request_error", code: null },
  authentication_error: { status: 401, type: "authentication_error", code: null },
  billing_error: { status: 402, type: "permission_error", code: "billing_error" },
  permission_error: { status: 403, type: "permission_error", code: null },
  not_found_error: { status: 404, type: "invalid_request_error", code: "not_found" },
  request_too_large: { status: 413, type: "invalid_request_error", code: "request_too_large" },
  rate_limit_error: { status: 429, type: "rate_limit_error", code: "rate_limit_exceeded" },
  api_error: { status: 500, type: "api_error", code: null },
  timeout_error: { status: 504, type: "timeout_error", code: "backend_timeout" },
  overloaded_error: { status: 503, type: "api_error", code: "overloaded" },
};
const OVERLOADED = 529;

/** A prompt over the model's window: OpenAI clients look for this code to trim their history. */
const TOO_LONG = /prompt is too long|exceed(s|ed)? (the )?context (window|limit)/i;

const decoder = new TextDecoder();
const MAX_MESSAGE = 1000;

/** The parsed `{"type":"error","error":{type,message}}` of a body given as text, bytes or JSON. */
function anthropicError(body: unknown): { type: string | null; message: string | null } {
  let value = body;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) value = decoder.decode(body as ArrayBuffer);
  if (typeof value === "string") {
    const text = value.trim();
    try {
      value = JSON.parse(text);
    } catch {
      return { type: null, message: text === "" ? null : text.slice(0, MAX_MESSAGE) };
    }
  }
  const error = (value as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  return {
    type: typeof error?.type === "string" ? error.type : null,
    message: typeof error?.message === "string" ? error.message : null,
  };
}

function kindOfStatus(status: number): ErrorKind {
  if (status === OVERLOADED) return ERROR_KINDS.overloaded_error!;
  const type: OpenAIErrorType =
    status === 401
      ? "authentication_error"
      : status === 403
        ? "permission_error"
        : status === 429
          ? "rate_limit_error"
          : status >= 500
            ? "api_error"
            : "invalid_request_error";
  return { status, type, code: null };
}

/**
 * An Anthropic error answer as the proxy's error: OpenAI's shape, the same status (529 → 503), and
 * `context_length_exceeded` for a prompt that is too long. `status` 0 (an `error` event inside a
 * stream, which has no status of its own) takes the status of the error's type.
 */
export function toProxyError(status: number, body: unknown): ProxyError {
  const { type, message } = anthropicError(body);
  const known = type !== null && Object.hasOwn(ERROR_KINDS, type) ? ERROR_KINDS[type]! : null;
  const kind =
    status === 0 ? (known ?? kindOfStatus(500)) : status === OVERLOADED ? ERROR_KINDS.overloaded_error! : { ...(known ?? kindOfStatus(status)), status };
  const text = message ?? `The Anthropic backend answered ${status || kind.status}${type ? ` (${type})` : ""}`;
  const code = kind.status === 400 && TOO_LONG.test(text) ? "context_length_exceeded" : kind.code;
  return new ProxyError(kind.status, text, kind.type, code);
}
