// Anthropic's Messages API in front of every backend: relayed natively to an Anthropic target (only
// the model and the key change, the answer byte for byte), and for any other target translated to
// a chat completion that the target's own adapter sends (inbound.ts), its answer translated back.
import { ProxyError } from "../model/errors";
import { backendAuthHeaders, type Target } from "../model/model";
import type { Usage } from "../model/usage";
import { upstreamRequestHeaders } from "../upstream/headers";
import {
  anthropicErrorBody,
  anthropicErrorOf,
  brokenEvent,
  ChatToMessagesStream,
  estimateInputTokens,
  toChatRequest,
  toMessagesResponse,
  usageOfMessages,
} from "./anthropic/inbound";
import { SseReader } from "./anthropic/sse";
import { MESSAGES_PIECES, PieceCounter, usageSoFar } from "./pieces";
import type { AnswerTranslator, ChatCall, LocalAnswer, MessagesCall, Outgoing, ProviderAdapter, StreamWatch } from "./provider";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const isSuccess = (status: number) => status >= 200 && status < 300;

/** A native Messages stream passed on byte for byte, its usage read on the way. */
class NativeStream implements StreamWatch {
  readonly endsBrokenStreams = true;
  private readonly reader = new SseReader();
  private input: Record<string, unknown> = {};
  private error: ProxyError | null = null;
  private readonly pieces = new PieceCounter(MESSAGES_PIECES);

  pass(chunk: Uint8Array): Uint8Array {
    this.read(this.reader.push(chunk));
    this.pieces.see(chunk);
    return chunk;
  }

  flush(broken?: boolean): Uint8Array | null {
    this.read(this.reader.end());
    // A cut body ends with Anthropic's error event, which the SDKs throw on (the relay adds no OpenAI-shaped one).
    return broken && !this.error ? encoder.encode(brokenEvent()) : null;
  }

  /** An `error` event after the 200 (passed on as it came): the request ends as failed. */
  failure(): ProxyError | null {
    return this.error;
  }

  usage(): Usage | null {
    return usageOfMessages(this.input);
  }

  /** A cut stream: the input Claude reported at its start, and at least a token per piece relayed. */
  estimate(promptTokens: number): Usage {
    return usageSoFar(this.usage(), promptTokens, this.pieces.count);
  }

  private read(events: { event: string; data: string }[]): void {
    for (const { event, data } of events) {
      if (event === "error" && !this.error) {
        let message = "The Anthropic backend failed mid-stream";
        try {
          message = String(JSON.parse(data)?.error?.message ?? message);
        } catch {}
        this.error = new ProxyError(502, message, "upstream_error", "backend_stream_error");
      }
      if (event !== "message_start" && event !== "message_delta") continue;
      try {
        const parsed = JSON.parse(data);
        const usage = event === "message_start" ? parsed?.message?.usage : parsed?.usage;
        if (usage && typeof usage === "object") {
          for (const [key, value] of Object.entries(usage)) if (typeof value === "number") this.input[key] = value;
        }
      } catch {}
    }
  }
}

/** Anthropic's own status for "overloaded": judged (retries, fallbacks, cool-downs) and answered as the 503 it is, as for chat. */
const OVERLOADED = 529;

/**
 * An Anthropic backend's own answer: its body as it is (an error not in Anthropic's shape is put in
 * it); its status too, but for 529, which is a 503.
 */
class NativeAnswer implements AnswerTranslator {
  readonly stream = new NativeStream();

  status(backendStatus: number): number {
    return backendStatus === OVERLOADED ? 503 : backendStatus;
  }

  whole(backendStatus: number, body: ArrayBuffer | Uint8Array): string {
    const text = decoder.decode(body);
    return isSuccess(backendStatus) ? text : anthropicErrorOf(backendStatus, text);
  }
}

/** A chat stream (relayed by an OpenAI-format backend, or translated by the target's adapter) as a Messages stream. */
class TranslatedStream implements StreamWatch {
  readonly endsBrokenStreams = true;
  /** The Messages events' pieces the client was sent. */
  private readonly pieces = new PieceCounter(MESSAGES_PIECES);

  constructor(
    private readonly translator: ChatToMessagesStream,
    private readonly inner: StreamWatch | undefined,
  ) {}

  pass(chunk: Uint8Array): Uint8Array {
    const out = this.translator.push(this.inner ? this.inner.pass(chunk) : chunk);
    this.pieces.see(out);
    return out;
  }

  flush(broken?: boolean): Uint8Array | null {
    const rest = this.inner?.flush(broken) ?? null;
    const head = rest && rest.byteLength > 0 ? this.translator.push(rest) : new Uint8Array(0);
    const tail = broken ? this.translator.broken() : this.translator.end();
    const out = new Uint8Array(head.byteLength + tail.byteLength);
    out.set(head, 0);
    out.set(tail, head.byteLength);
    return out.byteLength > 0 ? out : null;
  }

  failure(): ProxyError | null {
    const inner = this.inner?.failure?.() ?? null;
    if (inner) return inner;
    const own = this.translator.failure();
    return own ? new ProxyError(502, own.message, "upstream_error", "backend_stream_error") : null;
  }

  /**
   * What the backend reported: a translating target's own reading (Gemini's usageMetadata, which
   * reaches the chat chunks only when asked for), else the usage chunk of the chat stream; null when
   * it reported none (the estimate then applies, not an output of 0).
   */
  usage(): Usage | null {
    return this.inner?.usage() ?? this.translator.reportedUsage();
  }

  /** A stream cut, or reporting nothing: what it reported so far, and at least a token per piece relayed. */
  estimate(promptTokens: number): Usage {
    return usageSoFar(this.usage(), promptTokens, this.pieces.count);
  }
}

/** The answer of a chat completion made from a Messages request, in Anthropic's shape. */
class TranslatedAnswer implements AnswerTranslator {
  readonly stream: TranslatedStream;

  constructor(
    private readonly inner: AnswerTranslator | undefined,
    private readonly model: string,
    private readonly estimate: number,
  ) {
    this.stream = new TranslatedStream(new ChatToMessagesStream(model, estimate), inner?.stream);
  }

  status(backendStatus: number): number {
    return this.inner ? this.inner.status(backendStatus) : backendStatus;
  }

  whole(backendStatus: number, body: ArrayBuffer | Uint8Array): string {
    const out = this.inner ? this.inner.whole(backendStatus, body) : decoder.decode(body);
    if (out instanceof ProxyError) return anthropicErrorBody(out.status, out.message);
    if (!isSuccess(backendStatus)) return anthropicErrorOf(this.status(backendStatus), out);
    let completion: unknown;
    try {
      completion = JSON.parse(out);
    } catch {
      throw new ProxyError(502, "The backend's answer is not valid JSON", "upstream_error", "bad_backend_answer");
    }
    if (completion === null || typeof completion !== "object") {
      throw new ProxyError(502, "The backend's answer is not a chat completion", "upstream_error", "bad_backend_answer");
    }
    return JSON.stringify(toMessagesResponse(completion as Record<string, unknown>, this.model, this.estimate));
  }
}

/** Request headers that speak to an Anthropic client, not to another backend. */
const ANTHROPIC_ONLY = ["anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access"];

function nativeOutgoing(call: MessagesCall, target: Target): Outgoing {
  const headers = upstreamRequestHeaders(call.headers, null, call.forwardUserInfo);
  const clientVersion = call.headers.get("anthropic-version");
  Object.assign(headers, backendAuthHeaders(target));
  if (clientVersion) headers["anthropic-version"] = clientVersion;
  // The answer's bytes go on as they came: the backend may not compress them in a way the relay would have to undo.
  headers["accept-encoding"] = "identity";
  headers["x-request-id"] = call.requestId;
  return {
    path: call.operation,
    headers,
    body: JSON.stringify({ ...call.body, model: target.actualModelName }),
    stripUsage: false,
    answer: new NativeAnswer(),
  };
}

/**
 * One try's backend request for a Messages call: native to an Anthropic target; for any other, the
 * chat completion the target's adapter makes of it, answered back in Anthropic's shape.
 * `count_tokens` has no chat translation: only Anthropic targets count, any other answers the
 * documented estimate itself (so a model mixing providers, or falling back from Claude, still counts).
 */
export function messagesOutgoing(adapter: ProviderAdapter, call: MessagesCall, target: Target): Outgoing | LocalAnswer {
  if (target.provider === "anthropic") return nativeOutgoing(call, target);
  if (call.operation === "messages/count_tokens") return { local: JSON.stringify({ input_tokens: estimateInputTokens(call.body) }) };
  const chat = toChatRequest(call.body, target.actualModelName);
  if (!target.streamUsage) delete chat.stream_options;
  const chatCall: ChatCall = {
    kind: "chat",
    body: chat,
    search: "",
    askUsage: false,
    headers: call.headers,
    forwardUserInfo: call.forwardUserInfo,
    requestId: call.requestId,
  };
  const inner = adapter.outgoing(chatCall, target);
  const headers = { ...inner.headers };
  for (const name of ANTHROPIC_ONLY) delete headers[name];
  const model = typeof call.body.model === "string" ? call.body.model : target.modelId;
  return { ...inner, headers, stripUsage: false, answer: new TranslatedAnswer(inner.answer, model, estimateInputTokens(call.body)) };
}
