// Anthropic's Messages API behind OpenAI's chat completions: the request translated
// (request.ts), the answer translated back, whole (response.ts) or streamed (stream.ts), and the
// signed thinking of tool turns kept for the client's next turn (thinking-store.ts).
import { ProxyError } from "../../model/errors";
import { CHAT_PIECES, PieceCounter, usageSoFar } from "../pieces";
import { backendAuthHeaders, type Target } from "../../model/model";
import type { Usage } from "../../model/usage";
import { translatedRequestHeaders } from "../headers";
import { StreamUsage } from "../openai/stream-usage";
import { estimatedUsageOfBody, usageOfBody } from "../openai/usage";
import { includeUsage, unsupportedOperation, type AnswerTranslator, type ClientCall, type Outgoing, type ProviderAdapter, type StreamWatch } from "../provider";
import { toMessagesRequest } from "./request";
import { toChatCompletion, toProxyError } from "./response";
import { MessagesStreamTranslator } from "./stream";
import { ThinkingStore } from "./thinking-store";
import type { MessagesResponse } from "./types";

/** The API's own status for "overloaded", which no OpenAI client knows: judged and answered as 503. */
const OVERLOADED = 529;
const DEFAULT_MAX_TOKENS = 4096;

const isSuccess = (status: number) => status >= 200 && status < 300;

/** A Messages stream as the relay's filter: OpenAI chunks out, the usage and the signed thinking read on the way. */
class TranslatedStream implements StreamWatch {
  /** The chat chunks' pieces the client was sent: what a cut stream is charged beyond what Claude reported so far. */
  private readonly pieces = new PieceCounter(CHAT_PIECES);

  constructor(
    private readonly translator: MessagesStreamTranslator,
    private readonly thinking: ThinkingStore,
  ) {}

  pass(chunk: Uint8Array): Uint8Array {
    const out = this.translator.push(chunk);
    this.pieces.see(out);
    return out;
  }

  flush(broken?: boolean): Uint8Array | null {
    // A broken body gets the relay's own error event: the translator adds nothing to it.
    if (broken) return null;
    const rest = this.translator.end();
    if (!this.translator.failure()) this.thinking.keep(this.translator.thinking());
    return rest.byteLength > 0 ? rest : null;
  }

  failure(): ProxyError | null {
    return this.translator.failure();
  }

  usage(): Usage | null {
    return this.translator.usage();
  }

  /** A cut stream: the input Claude reported at its start, and at least a token per piece relayed (its output count comes only at the end). */
  estimate(promptTokens: number): Usage {
    return usageSoFar(this.translator.usage(), promptTokens, this.pieces.count);
  }
}

class MessagesAnswer implements AnswerTranslator {
  readonly stream: TranslatedStream;

  constructor(
    private readonly model: string,
    streamUsage: boolean,
    private readonly thinking: ThinkingStore,
  ) {
    this.stream = new TranslatedStream(new MessagesStreamTranslator({ model, includeUsage: streamUsage }), thinking);
  }

  status(backendStatus: number): number {
    return backendStatus === OVERLOADED ? 503 : backendStatus;
  }

  whole(backendStatus: number, body: ArrayBuffer | Uint8Array): string | ProxyError {
    if (!isSuccess(backendStatus)) return toProxyError(backendStatus, body);
    let message: MessagesResponse;
    try {
      message = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new ProxyError(502, "The Anthropic backend's answer is not valid JSON", "upstream_error", "bad_backend_answer");
    }
    if (message === null || typeof message !== "object") {
      throw new ProxyError(502, "The Anthropic backend's answer is not a message", "upstream_error", "bad_backend_answer");
    }
    const { completion, thinking } = toChatCompletion(message, { model: this.model });
    this.thinking.keep(thinking);
    return JSON.stringify(completion);
  }
}

/** The ids of the tool calls a chat request replays (its assistant turns'), whose thinking may be kept. */
function replayedToolCallIds(body: Readonly<Record<string, unknown>>): string[] {
  const ids: string[] = [];
  if (!Array.isArray(body.messages)) return ids;
  for (const message of body.messages as { role?: unknown; tool_calls?: unknown }[]) {
    if (message?.role !== "assistant" || !Array.isArray(message.tool_calls)) continue;
    for (const call of message.tool_calls as { id?: unknown }[]) if (typeof call?.id === "string") ids.push(call.id);
  }
  return ids;
}

/**
 * The adapter for `provider: "anthropic"`: chat completions only (every other operation is a 400
 * naming the provider, sent nowhere). `thinking` keeps signed thinking between a client's turns.
 */
export function anthropicAdapter(thinking: ThinkingStore = new ThinkingStore()): ProviderAdapter {
  return {
    outgoing(call: ClientCall, target: Target): Outgoing {
      if (call.kind === "relay") throw unsupportedOperation("anthropic", target, call.operation);
      const request = toMessagesRequest(call.body, {
        model: target.actualModelName,
        maxTokens: target.maxTokens ?? DEFAULT_MAX_TOKENS,
        thinkingFor: thinking.lookup,
      });
      return {
        path: "messages",
        headers: translatedRequestHeaders(call, backendAuthHeaders(target)),
        body: JSON.stringify(request),
        stripUsage: false,
        answer: new MessagesAnswer(target.modelId, includeUsage(call.body), thinking),
      };
    },
    // A tool loop's next turn may land on another instance than the one that kept its thinking.
    prepare: (call) => (call.kind === "chat" ? thinking.fetch(replayedToolCallIds(call.body)) : Promise.resolve()),
    // What is read is the translated answer, in OpenAI's shape.
    usageOfBody,
    estimateOfBody: estimatedUsageOfBody,
    streamWatch: (stripUsage) => new StreamUsage(stripUsage),
  };
}
