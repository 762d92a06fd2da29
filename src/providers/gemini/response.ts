// Gemini's generateContent answer → an OpenAI chat.completion, and Gemini's errors → OpenAI's
// error shape. The stream translator shares the part, finish-reason and usage mapping below.
import { ProxyError, type OpenAIErrorType } from "../../model/errors";
import { tokenUsage, type Usage } from "../../model/usage";
import { randomNonce, toolCallId } from "./tool-call-id";
import type {
  Candidate,
  ChatCompletion,
  FinishReason,
  GeminiErrorBody,
  GenerateContentResponse,
  OpenAIToolCall,
  OpenAIUsage,
  Part,
  UsageMetadata,
} from "./types";

export interface CompletionOptions {
  /** The model name the client is shown. */
  readonly model: string;
  /** Seconds since the epoch; defaults to now. */
  readonly created?: number;
  /** Random part of generated ids (tests pass a counter for stable output). */
  readonly nonce?: () => string;
}

/** Gemini's finishReason → OpenAI's. Reasons not listed (OTHER, MALFORMED_FUNCTION_CALL, …) end as `stop`. */
const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
  IMAGE_PROHIBITED_CONTENT: "content_filter",
};

/**
 * Gemini says STOP for a turn that ended in function calls; OpenAI clients run tools only on
 * `tool_calls`. `calledTools` is whether the turn (in a stream: any earlier chunk) held a call.
 */
export function finishReason(reason: string, calledTools: boolean): FinishReason {
  const mapped = FINISH_REASONS[reason] ?? "stop";
  return mapped === "stop" && calledTools ? "tool_calls" : mapped;
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0);

/**
 * usageMetadata → OpenAI usage. Thoughts are output Gemini bills but leaves out of
 * candidatesTokenCount; promptTokenCount already includes the cached tokens. The total is
 * prompt + completion, as OpenAI's always is (Gemini's own total may add tool-use prompt tokens).
 */
export function openAIUsage(meta: UsageMetadata): OpenAIUsage {
  const prompt = count(meta.promptTokenCount);
  const thoughts = count(meta.thoughtsTokenCount);
  const completion = count(meta.candidatesTokenCount) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: count(meta.cachedContentTokenCount) },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

/** The proxy's own usage record of an answer. */
export const usageRecord = (usage: OpenAIUsage): Usage =>
  tokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.prompt_tokens_details?.cached_tokens);

/** A part that holds a function call. */
export type CallPart = Part & { functionCall: NonNullable<Part["functionCall"]> };
export const isCall = (part: Part): part is CallPart => !!part.functionCall;

/** One functionCall part → an OpenAI tool call whose id carries the part's signature. */
export function toolCallOf(part: CallPart, nonce: () => string): OpenAIToolCall {
  return {
    id: toolCallId(part.thoughtSignature, nonce()),
    type: "function",
    function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
  };
}

/** What a candidate's parts say, split by kind. */
export function readParts(parts: readonly Part[], nonce: () => string) {
  let text = "";
  let reasoning = "";
  const toolCalls: OpenAIToolCall[] = [];
  for (const part of parts) {
    if (isCall(part)) toolCalls.push(toolCallOf(part, nonce));
    else if (typeof part.text === "string") {
      if (part.thought) reasoning += part.text;
      else text += part.text;
    }
  }
  return { text, reasoning, toolCalls };
}

export const completionId = (response: GenerateContentResponse, nonce: () => string) => `chatcmpl-${response.responseId ?? nonce()}`;

function choiceOf(candidate: Candidate, position: number, nonce: () => string): ChatCompletion["choices"][number] {
  const { text, reasoning, toolCalls } = readParts(candidate.content?.parts ?? [], nonce);
  const message: ChatCompletion["choices"][number]["message"] = { role: "assistant", content: text === "" && toolCalls.length > 0 ? null : text };
  if (reasoning !== "") message.reasoning_content = reasoning;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return { index: candidate.index ?? position, message, finish_reason: finishReason(candidate.finishReason ?? "STOP", toolCalls.length > 0) };
}

/**
 * A whole generateContent answer → chat.completion. A prompt Gemini blocked (`promptFeedback.
 * blockReason`, no candidates) becomes an empty answer with finish_reason content_filter, so a
 * client sees why nothing came rather than an empty success.
 */
export function toChatCompletion(response: GenerateContentResponse, opts: CompletionOptions): ChatCompletion {
  const nonce = opts.nonce ?? randomNonce;
  const candidates = response.candidates ?? [];
  const choices =
    candidates.length > 0
      ? candidates.map((candidate, i) => choiceOf(candidate, i, nonce))
      : [
          {
            index: 0,
            message: { role: "assistant" as const, content: "" },
            finish_reason: (response.promptFeedback?.blockReason ? "content_filter" : "stop") as FinishReason,
          },
        ];
  const completion: ChatCompletion = {
    id: completionId(response, nonce),
    object: "chat.completion",
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: opts.model,
    choices,
  };
  if (response.usageMetadata) completion.usage = openAIUsage(response.usageMetadata);
  return completion;
}

/** OpenAI's error type for a status, as the SDKs map statuses to their error classes. */
function errorType(status: number): OpenAIErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

const MAX_MESSAGE = 500;

/** `retryDelay: "31s"` of a RetryInfo detail, in whole seconds. */
function retryAfterOf(details: readonly Record<string, unknown>[]): number | undefined {
  for (const detail of details) {
    const delay = detail.retryDelay;
    const seconds = typeof delay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1] : undefined;
    if (seconds) return Math.ceil(Number(seconds));
  }
  return undefined;
}

/**
 * A Gemini error answer → a ProxyError with the same status, so the proxy's retry rules (429 and
 * 503 are retried) apply unchanged. The code is Gemini's status in lower case, except where
 * OpenAI clients look for their own: `rate_limit_exceeded`, `context_length_exceeded`. A
 * `retryDelay` becomes `retry-after`.
 */
export function toProxyError(status: number, body: string | Uint8Array | ArrayBuffer): ProxyError {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  let parsed: GeminiErrorBody | undefined;
  try {
    const json: unknown = JSON.parse(text);
    // The stream endpoint without alt=sse wraps its error in an array.
    parsed = (Array.isArray(json) ? json[0] : json) as GeminiErrorBody;
  } catch {}
  const error = parsed?.error;
  const message = error?.message || `Gemini answered ${status}${text.trim() ? `: ${text.trim().slice(0, MAX_MESSAGE)}` : ""}`;
  let code = error?.status ? error.status.toLowerCase() : null;
  if (status === 429) code = "rate_limit_exceeded";
  else if (/input token count.*exceeds the maximum/i.test(message)) code = "context_length_exceeded";
  const retryAfter = retryAfterOf(Array.isArray(error?.details) ? error.details : []);
  return new ProxyError(status, message, errorType(status), code, null, retryAfter !== undefined ? { "retry-after": String(retryAfter) } : undefined);
}
