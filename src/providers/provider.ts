// The seam between the proxy and a backend's wire format: one adapter per format.
import { invalidRequest, type ProxyError } from "../model/errors";
import type { Target } from "../model/model";
import type { Usage } from "../model/usage";
import type { AnswerRewrite } from "../upstream/forward";
import type { UserInfoForwarding } from "../access/openwebui-headers";
import type { HeaderRecord } from "../upstream/headers";
import type { ChunkFilter } from "../upstream/relay";

type Body = RequestInit["body"];

/** What the client asked for, in its own wire format (OpenAI's), as its route read it. */
export type ClientCall = ChatCall | RelayCall;

interface CallBase {
  /** The client's request headers: its credentials are never passed on. */
  readonly headers: Headers;
  /** Which of Open WebUI's headers (personal data) go to the backend. */
  readonly forwardUserInfo: UserInfoForwarding;
  readonly requestId: string;
}

/** `POST /chat/completions`, its JSON body parsed and validated. */
export interface ChatCall extends CallBase {
  readonly kind: "chat";
  readonly body: Record<string, unknown> & { stream_options?: unknown };
  /** The client's query string, with its `?`, or "". */
  readonly search: string;
  /** The proxy asks a streaming backend for usage itself (the client did not), and takes that chunk out again. */
  readonly askUsage: boolean;
}

/** Any other path, relayed with the model renamed wherever the client named it. */
export interface RelayCall extends CallBase {
  readonly kind: "relay";
  readonly method: string;
  /** The path below `/v1/` without its query (`embeddings`, `audio/speech`): what a translating adapter looks at. */
  readonly operation: string;
  /** The JSON object body as parsed, for an adapter that translates it; null when the body is not one. */
  readonly json: Record<string, unknown> | null;
  /** The path below `/v1/` with its query, for the backend's model name. */
  path(actualModelName: string): string;
  /**
   * A legacy `/completions` stream whose client did not ask for its usage: the proxy asks (when the
   * target allows `stream_options`) and takes that chunk out again, as for chat.
   */
  readonly askUsage: boolean;
  /** The body for the backend's model name, asking for the stream's usage when `withUsage`. */
  body(actualModelName: string, withUsage: boolean): Body;
}

/**
 * `POST /v1/messages` or `/v1/messages/count_tokens` (Anthropic's Messages API), its JSON body
 * parsed: relayed natively to an Anthropic backend, translated to a chat completion (or, to count
 * tokens, estimated) for any other (messages.ts), never handed to an adapter's own `outgoing`.
 */
export interface MessagesCall extends CallBase {
  readonly kind: "messages";
  readonly operation: "messages" | "messages/count_tokens";
  readonly body: Record<string, unknown>;
}

/** One try's backend request. */
export interface Outgoing {
  /** Below the target's prefix (`<url>/v1/`), with the query string if any. */
  readonly path: string;
  readonly headers: HeaderRecord;
  readonly body: Body;
  /** The proxy asked this backend for stream usage itself: the usage-only chunk is not the client's. */
  readonly stripUsage: boolean;
  /**
   * How the answer becomes the client's, for a backend in another wire format; absent when the
   * backend speaks OpenAI's, whose answers are relayed byte for byte.
   */
  readonly answer?: AnswerTranslator;
}

/**
 * A try answered without a backend call: what the proxy knows to say for an operation the target's
 * wire format lacks (a Messages `count_tokens` estimate). No backend is judged, nothing is relayed.
 */
export interface LocalAnswer {
  /** The JSON body of the 200 answer. */
  readonly local: string;
}

/**
 * One try's answer in the client's terms: its status (which the proxy judges for retries, cool-downs
 * and metrics, so an Anthropic 529 counts as the 503 it is), its body read whole (an error in
 * OpenAI's shape, a chat.completion), and its event stream translated chunk by chunk.
 */
export interface AnswerTranslator extends AnswerRewrite {
  /** The relay's filter for a 2xx event stream, which also reads the usage of what it translated. */
  readonly stream: StreamWatch;
}

/** Reads an answer's token usage as its stream is relayed (and may take out what the proxy added). */
export interface StreamWatch extends ChunkFilter {
  /** The usage the stream reported, once it has ended. */
  usage(): Usage | null;
  /**
   * What to charge for a stream that reported no usage (from a backend not asked for it), or was
   * cut short by the client or a failure: what it reported so far, completed from `promptTokens`
   * (estimated from the request) and the pieces the stream carried (`usageSoFar`).
   */
  estimate?(promptTokens: number): Usage;
}

/**
 * Everything that knows a backend's wire format: how a client's call becomes its request, and how
 * to read the usage of its answer. It never decides retries: the proxy does, from the status (the
 * one its answer translator reports, when it has one).
 */
export interface ProviderAdapter {
  /** Throws a ProxyError (a 400) for a call it cannot make: no backend request is sent then. */
  outgoing(call: ClientCall, target: Target): Outgoing;
  /**
   * What `outgoing` needs from elsewhere before it can run (state another instance kept), fetched
   * once per call; never rejects. Absent when the adapter needs nothing.
   */
  prepare?(call: ClientCall): Promise<void>;
  /** The usage of an answer read whole, as the client was sent it (translated answers in OpenAI's shape); null when it reports none. */
  usageOfBody(body: ArrayBuffer | Uint8Array): Usage | null;
  /** What to charge for a 2xx answer read whole that reported no usage, from `promptTokens` and what it generated; null when it generated nothing a token count applies to. */
  estimateOfBody(body: ArrayBuffer | Uint8Array, promptTokens: number): Usage | null;
  streamWatch(stripUsage: boolean): StreamWatch;
}

/** The 400 for an operation a translating adapter has no translation for: no backend call is made. */
export function unsupportedOperation(provider: string, target: Target, operation: string): ProxyError {
  const article = /^[aeiou]/.test(provider) ? "an" : "a";
  return invalidRequest(
    `Model '${target.modelId}' is served by ${article} ${provider} backend, which has no translation for /v1/${operation}`,
    null,
    "unsupported_endpoint",
  );
}

/** Whether the client asked for the usage-only chunk of a stream (`stream_options.include_usage`). */
export const includeUsage = (body: Record<string, unknown>) => (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
