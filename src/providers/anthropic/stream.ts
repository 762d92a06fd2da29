// An Anthropic Messages SSE stream → OpenAI chat.completion.chunk SSE, translated as the bytes
// arrive. Each whole Anthropic event becomes at most a few chunks at once, so the output is the
// same however the input was cut, and text reaches the client as soon as its event is complete.
import { sseErrorEvent, ProxyError } from "../../model/errors";
import type { Usage } from "../../model/usage";
import { finishOf, toProxyError, type FinishReason } from "./response";
import { SseReader } from "./sse";
import type { MessagesUsage, ReplayedThinking, SignedThinking } from "./types";
import { mergeUsage, openAIUsage, proxyUsage, type OpenAIUsage } from "./usage";

export interface StreamOptions {
  /** The model id the client asked for. */
  readonly model: string;
  /** The client asked `stream_options.include_usage`: a usage-only chunk (`choices: []`) comes before `[DONE]`. */
  readonly includeUsage: boolean;
  /** Unix seconds; now when left out. */
  readonly created?: number;
  /** The chunks' id; the message's id when left out. */
  readonly id?: string;
}

/** What a content block being streamed has told so far. */
type OpenBlock =
  | { kind: "text" }
  | { kind: "tool"; index: number; argsSent: boolean; input: unknown }
  | { kind: "thinking"; thinking: string; signature: string }
  | { kind: "redacted"; data: string }
  | { kind: "other" };

type Json = Record<string, any>;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const DONE = "data: [DONE]\n\n";

/** The backend's stream ended before `message_stop`: the client is told, rather than handed a cut answer as complete. */
const truncated = () => new ProxyError(502, "The Anthropic backend's stream ended before the answer was complete", "upstream_error", "stream_truncated");

export class MessagesStreamTranslator {
  private readonly reader = new SseReader();
  private readonly created: number;
  /** `data: {"id":…,"choices":[{"index":0,"delta":` — the same for every chunk once the id is known. */
  private prefix = "";
  private started = false;
  private over = false;
  private finished = false;
  private toolCount = 0;
  private readonly blocks = new Map<number, OpenBlock>();
  private readonly toolIds: string[] = [];
  private readonly thoughts: ReplayedThinking[] = [];
  private counts: MessagesUsage | null = null;
  private finish: FinishReason | null = null;
  private error: ProxyError | null = null;
  /** The chunks this push produces. */
  private out: string[] = [];

  constructor(private readonly opts: StreamOptions) {
    this.created = opts.created ?? Math.floor(Date.now() / 1000);
  }

  /** The OpenAI SSE bytes for this piece of the Anthropic stream (often none: an event is still incomplete). */
  push(chunk: Uint8Array): Uint8Array {
    if (this.over) return EMPTY;
    return this.translate(this.reader.push(chunk));
  }

  /**
   * The bytes that end the client's stream: what the last events make, or, when the backend's
   * stream stopped before `message_stop` without an error event, an error event saying so.
   */
  end(): Uint8Array {
    if (this.over) return EMPTY;
    const events = this.reader.end();
    const bytes = this.translate(events);
    if (this.over) return bytes;
    this.over = true;
    this.error = truncated();
    return concat(bytes, encoder.encode(sseErrorEvent(this.error)));
  }

  /** The usage the stream reported, in the proxy's terms; null when it reported none. */
  usage(): Usage | null {
    return this.counts ? proxyUsage(openAIUsage(this.counts)) : null;
  }

  /** The usage in OpenAI's shape (with cached prompt tokens), as the usage chunk carries it. */
  openAIUsage(): OpenAIUsage | null {
    return this.counts ? openAIUsage(this.counts) : null;
  }

  /** The signed thinking of an answer that called tools, to keep for the client's next turn; else null. */
  thinking(): SignedThinking | null {
    return this.toolIds.length > 0 && this.thoughts.length > 0 ? { toolCallIds: [...this.toolIds], blocks: [...this.thoughts] } : null;
  }

  /** The error the stream ended with (an `error` event, or a stream cut short); null otherwise. */
  failure(): ProxyError | null {
    return this.error;
  }

  finishReason(): FinishReason | null {
    return this.finish;
  }

  private translate(events: readonly { event: string; data: string }[]): Uint8Array {
    for (const { data } of events) {
      if (this.over) break;
      let event: Json;
      try {
        event = JSON.parse(data);
      } catch {
        continue; // not JSON: nothing a client could use
      }
      if (event !== null && typeof event === "object") this.onEvent(event);
    }
    if (this.out.length === 0) return EMPTY;
    const text = this.out.join("");
    this.out = [];
    return encoder.encode(text);
  }

  private onEvent(event: Json): void {
    switch (event.type) {
      case "message_start":
        return this.start(event.message);
      case "content_block_start":
        return this.blockStart(event.index, event.content_block ?? {});
      case "content_block_delta":
        return this.blockDelta(event.index, event.delta ?? {});
      case "content_block_stop":
        return this.blockStop(event.index);
      case "message_delta":
        this.counts = mergeUsage(this.counts ?? {}, event.usage);
        if (event.delta?.stop_reason) this.finishWith(event.delta.stop_reason);
        return;
      case "message_stop":
        return this.stop();
      case "error":
        return this.fail(toProxyError(0, event));
      // ping, and event types newer than this code: nothing for the client.
    }
  }

  private start(message: Json | undefined): void {
    if (this.started) return;
    this.started = true;
    const id = this.opts.id ?? (typeof message?.id === "string" ? message.id : "chatcmpl-anthropic");
    this.prefix = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${this.created},"model":${JSON.stringify(this.opts.model)},"choices":[{"index":0,"delta":`;
    if (message?.usage) this.counts = mergeUsage(this.counts ?? {}, message.usage);
    this.emit({ role: "assistant", content: "" });
  }

  private blockStart(index: number, block: Json): void {
    let open: OpenBlock;
    switch (block.type) {
      case "text":
        open = { kind: "text" };
        if (block.text) this.emit({ content: block.text });
        break;
      case "tool_use": {
        // OpenAI numbers tool calls from 0; Anthropic's block index counts text and thinking too.
        open = { kind: "tool", index: this.toolCount++, argsSent: false, input: block.input };
        this.toolIds.push(block.id);
        this.emit({ tool_calls: [{ index: open.index, id: block.id, type: "function", function: { name: block.name, arguments: "" } }] });
        break;
      }
      case "thinking":
        open = { kind: "thinking", thinking: block.thinking ?? "", signature: block.signature ?? "" };
        if (block.thinking) this.emit({ reasoning_content: block.thinking });
        break;
      case "redacted_thinking":
        open = { kind: "redacted", data: block.data ?? "" };
        break;
      default:
        open = { kind: "other" }; // server tools and their results: nothing an OpenAI client reads
    }
    this.blocks.set(index, open);
  }

  private blockDelta(index: number, delta: Json): void {
    const open = this.blocks.get(index);
    switch (delta.type) {
      case "text_delta":
        if (delta.text) this.emit({ content: delta.text });
        return;
      case "input_json_delta":
        if (open?.kind !== "tool" || !delta.partial_json) return;
        open.argsSent = true;
        this.emit({ tool_calls: [{ index: open.index, function: { arguments: delta.partial_json } }] });
        return;
      case "thinking_delta":
        if (!delta.thinking) return;
        if (open?.kind === "thinking") open.thinking += delta.thinking;
        this.emit({ reasoning_content: delta.thinking });
        return;
      case "signature_delta":
        if (open?.kind === "thinking" && typeof delta.signature === "string") open.signature += delta.signature;
        return;
    }
  }

  private blockStop(index: number): void {
    const open = this.blocks.get(index);
    this.blocks.delete(index);
    if (!open) return;
    if (open.kind === "tool" && !open.argsSent) {
      // A tool without input sends no input_json_delta (or an empty one): its arguments must
      // still be a JSON object, never "" (clients fail to parse that).
      const input = open.input && typeof open.input === "object" && Object.keys(open.input).length > 0 ? JSON.stringify(open.input) : "{}";
      this.emit({ tool_calls: [{ index: open.index, function: { arguments: input } }] });
    } else if (open.kind === "thinking") {
      this.thoughts.push({ type: "thinking", thinking: open.thinking, signature: open.signature });
    } else if (open.kind === "redacted") {
      this.thoughts.push({ type: "redacted_thinking", data: open.data });
    }
  }

  private finishWith(stopReason: unknown): void {
    if (this.finished) return;
    for (const index of [...this.blocks.keys()]) this.blockStop(index); // a block left open ends with the answer
    this.finished = true;
    this.finish = finishOf(stopReason, this.toolCount > 0);
    this.emit({}, this.finish);
  }

  private stop(): void {
    this.finishWith("end_turn"); // a message_delta without stop_reason
    if (this.opts.includeUsage && this.counts) {
      const usage = JSON.stringify(openAIUsage(this.counts));
      this.out.push(`${this.prefix.slice(0, this.prefix.indexOf('"choices":'))}"choices":[],"usage":${usage}}\n\n`);
    }
    this.out.push(DONE);
    this.over = true;
  }

  private fail(error: ProxyError): void {
    this.error = error;
    this.out.push(sseErrorEvent(error));
    this.over = true;
  }

  private emit(delta: Json, finishReason: FinishReason | null = null): void {
    if (!this.started) this.start(undefined); // content before message_start: the role chunk still comes first
    this.out.push(`${this.prefix}${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finishReason === null ? "null" : `"${finishReason}"`}}]}\n\n`);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const both = new Uint8Array(a.byteLength + b.byteLength);
  both.set(a);
  both.set(b, a.byteLength);
  return both;
}
