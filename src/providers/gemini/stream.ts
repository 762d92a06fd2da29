// Gemini's `streamGenerateContent?alt=sse` → OpenAI chat.completion.chunk SSE, translated as the
// bytes arrive. State is kept per choice because Gemini 3 may send the STOP for a turn of function
// calls in a later event than the calls themselves (`{"text":""}` with finishReason STOP), and
// OpenAI clients run tools only when the finish reason is `tool_calls`.
import { sseErrorEvent, type ProxyError } from "../../model/errors";
import type { Usage } from "../../model/usage";
import type { StreamWatch } from "../provider";
import { completionId, finishReason, isCall, openAIUsage, toolCallOf, toProxyError, usageRecord, type CompletionOptions } from "./response";
import { SseReader } from "./sse";
import { randomNonce } from "./tool-call-id";
import type { FinishReason, GeminiErrorBody, GenerateContentResponse, OpenAIToolCall, UsageMetadata } from "./types";

export interface StreamOptions extends CompletionOptions {
  /** The client asked `stream_options.include_usage`: one usage-only chunk comes before `[DONE]`. */
  readonly includeUsage: boolean;
}

interface Delta {
  role?: "assistant";
  content?: string;
  reasoning_content?: string;
  tool_calls?: (OpenAIToolCall & { index: number })[];
}

interface ChoiceState {
  /** A chunk of this choice went out (the first one carries the role). */
  started: boolean;
  /** Tool calls sent so far: the next one's index, and whether the turn must finish as tool_calls. */
  calls: number;
  finished: boolean;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Translates one Gemini SSE answer into OpenAI's chunks: `push` every chunk of bytes as it comes
 * (events may split anywhere), `end` once the body is over, then read `usage()`. It is also the
 * proxy's StreamWatch for this answer (`pass`/`flush`).
 */
export class GeminiStreamTranslator implements StreamWatch {
  private readonly reader = new SseReader();
  private readonly choices = new Map<number, ChoiceState>();
  private readonly nonce: () => string;
  private readonly created: number;
  private id: string | undefined;
  private lastUsage: UsageMetadata | undefined;
  /** `[DONE]` or an error event went out: nothing follows. */
  private closed = false;
  private error: ProxyError | null = null;

  constructor(private readonly opts: StreamOptions) {
    this.nonce = opts.nonce ?? randomNonce;
    this.created = opts.created ?? Math.floor(Date.now() / 1000);
  }

  /** The OpenAI bytes for this chunk of Gemini bytes (possibly none). */
  push(chunk: Uint8Array): Uint8Array {
    return this.encode(this.reader.push(chunk).flatMap((data) => this.event(data)));
  }

  /** The rest once Gemini's body ended: a last unterminated event, finish chunks still owed, usage, `[DONE]`. */
  end(): Uint8Array {
    const out = this.reader.end().flatMap((data) => this.event(data));
    if (!this.closed) {
      this.closed = true;
      // A body that ended without a finishReason still ends every choice it began.
      for (const [index, state] of this.choices)
        if (state.started && !state.finished) out.push(this.finish(index, state, state.calls > 0 ? "tool_calls" : "stop"));
      if (this.opts.includeUsage && this.lastUsage) out.push(this.chunk([], openAIUsage(this.lastUsage)));
      out.push("data: [DONE]\n\n");
    }
    return this.encode(out);
  }

  /** The usage of the last usageMetadata seen (Gemini repeats it, growing, on every event). */
  usage(): Usage | null {
    return this.lastUsage ? usageRecord(openAIUsage(this.lastUsage)) : null;
  }

  /** The error event Gemini sent after its 200, if it did; null otherwise. */
  failure(): ProxyError | null {
    return this.error;
  }

  pass(chunk: Uint8Array): Uint8Array {
    return this.push(chunk);
  }

  /** `broken`: the body was cut (the relay sends its own error event), so no finish chunk or `[DONE]` pretends it ended. */
  flush(broken?: boolean): Uint8Array | null {
    if (broken) return null;
    const rest = this.end();
    return rest.length > 0 ? rest : null;
  }

  private event(data: string): string[] {
    if (this.closed) return [];
    let response: GenerateContentResponse & GeminiErrorBody;
    try {
      response = JSON.parse(data);
    } catch {
      return []; // not JSON: nothing a client could use
    }
    if (response === null || typeof response !== "object") return [];
    if (response.error) {
      // An error after the 200: OpenAI's in-stream error event, and the stream ends there.
      this.closed = true;
      const status = typeof response.error.code === "number" ? response.error.code : 500;
      this.error = toProxyError(status, data);
      return [sseErrorEvent(this.error)];
    }
    this.id ??= completionId(response, this.nonce);
    if (response.usageMetadata) this.lastUsage = response.usageMetadata;

    const out: string[] = [];
    const candidates = response.candidates ?? [];
    if (candidates.length === 0 && response.promptFeedback?.blockReason) {
      const state = this.state(0);
      if (!state.finished) out.push(this.finish(0, state, "content_filter"));
    }
    candidates.forEach((candidate, position) => {
      const index = candidate.index ?? position;
      const state = this.state(index);
      if (state.finished) return;
      for (const part of candidate.content?.parts ?? []) {
        if (isCall(part)) {
          const call = toolCallOf(part, this.nonce);
          out.push(this.delta(index, state, { tool_calls: [{ index: state.calls++, ...call }] }));
        } else if (typeof part.text === "string" && part.text !== "") {
          out.push(this.delta(index, state, part.thought ? { reasoning_content: part.text } : { content: part.text }));
        }
      }
      if (candidate.finishReason) out.push(this.finish(index, state, finishReason(candidate.finishReason, state.calls > 0)));
    });
    return out;
  }

  private state(index: number): ChoiceState {
    let state = this.choices.get(index);
    if (!state) this.choices.set(index, (state = { started: false, calls: 0, finished: false }));
    return state;
  }

  private delta(index: number, state: ChoiceState, delta: Delta): string {
    const withRole = state.started ? delta : { role: "assistant" as const, ...delta };
    state.started = true;
    return this.chunk([{ index, delta: withRole, finish_reason: null }]);
  }

  private finish(index: number, state: ChoiceState, reason: FinishReason): string {
    state.finished = true;
    const delta: Delta = state.started ? {} : { role: "assistant", content: "" };
    state.started = true;
    return this.chunk([{ index, delta, finish_reason: reason }]);
  }

  private chunk(choices: { index: number; delta: Delta; finish_reason: FinishReason | null }[], usage?: unknown): string {
    // Only usage or [DONE] before any event: the id is minted here.
    this.id ??= `chatcmpl-${this.nonce()}`;
    const chunk = { id: this.id, object: "chat.completion.chunk", created: this.created, model: this.opts.model, choices, ...(usage ? { usage } : {}) };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  private encode(events: string[]): Uint8Array {
    return events.length === 0 ? EMPTY : encoder.encode(events.join(""));
  }
}
