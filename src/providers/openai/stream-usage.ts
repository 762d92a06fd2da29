import { ProxyError } from "../../model/errors";
import type { Usage } from "../../model/usage";
import { CHAT_PIECES, PieceCounter, usageSoFar } from "../pieces";
import { lastUsageIn, usageOf } from "./usage";

const LF = 10,
  CR = 13;
const decoder = new TextDecoder();
/** The usage event is among the last few hundred bytes of a stream; a Responses API one carries the whole response. */
const TAIL_BYTES = 64 * 1024;

/** Offsets just past each blank line (the end of an SSE event) in `bytes`. */
function eventEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  let lineStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c !== LF && c !== CR) continue;
    const terminatorStart = i;
    if (c === CR) {
      if (i + 1 === bytes.length) break; // CR or CRLF: the next byte tells
      if (bytes[i + 1] === LF) i++;
    }
    if (terminatorStart === lineStart) ends.push(i + 1);
    lineStart = i + 1;
  }
  return ends;
}

/** The JSON of an event's `data:` lines, joined as SSE joins them; null when it has none. */
function eventData(text: string): string | null {
  let data: string | null = null;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (!line.startsWith("data:")) continue;
    const value = line.slice(line[5] === " " ? 6 : 5);
    data = data === null ? value : `${data}\n${value}`;
  }
  return data;
}

function parseEvent(bytes: Uint8Array): unknown {
  const text = decoder.decode(bytes);
  if (!text.includes('"usage"')) return null;
  const data = eventData(text);
  if (data === null || data === "[DONE]") return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

/** The chunk `include_usage` adds before `[DONE]`: no choices, only usage. */
function isUsageOnly(value: unknown): boolean {
  const chunk = value as { choices?: unknown; usage?: unknown } | null;
  return Array.isArray(chunk?.choices) && chunk.choices.length === 0 && usageOf(chunk) !== null;
}

const ERROR_KEY = Buffer.from('"error"');
/**
 * How OpenAI-compatible servers report an error after their 200, at the start of a line: vLLM's
 * `data: {"error":…}` event, llama.cpp's `error:` field, Ollama's bare `{"error":…}` line. Inside
 * content a quote is escaped and a line break is `\n`, so these never match an answer's text.
 */
const ERROR_STARTS = [Buffer.from('data: {"error"'), Buffer.from('data:{"error"'), Buffer.from("error:"), Buffer.from('{"error"')];

/** The backend's in-stream error in this chunk, if one starts a line of it (one split across chunks is missed). */
function inStreamError(chunk: Uint8Array): ProxyError | null {
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (bytes.indexOf(ERROR_KEY) === -1 && bytes.indexOf(ERROR_STARTS[2]!) === -1) return null;
  for (const start of ERROR_STARTS) {
    for (let at = bytes.indexOf(start); at !== -1; at = bytes.indexOf(start, at + 1)) {
      if (at === 0 || bytes[at - 1] === LF || bytes[at - 1] === CR)
        return new ProxyError(502, "The backend reported an error mid-stream", "upstream_error", "backend_stream_error");
    }
  }
  return null;
}

/** A choice has finished: what follows is the usage chunk and `[DONE]`. */
const FINISHED = [Buffer.from('"finish_reason":"'), Buffer.from('"finish_reason": "')];
const MARKER_OVERLAP = 32;

/**
 * Reads the token usage of an SSE stream as it is relayed. By default every byte passes on as it
 * came and only a tail is kept, to find the usage event at the end. With `strip` (the proxy itself
 * asked the backend for usage), the usage-only chunk is taken out of what the client receives and
 * every other byte passes unchanged. Content passes at once, never held back: only once a choice
 * has finished are events held until their blank line, to find the usage chunk among them.
 */
export class StreamUsage {
  private found: Usage | null = null;
  /** Pieces of the answer relayed so far. */
  private readonly pieces = new PieceCounter(CHAT_PIECES);
  private tail: Uint8Array[] = [];
  private tailBytes = 0;
  private pending: Uint8Array | null = null;
  /** A finish_reason has passed: events are now read whole. */
  private armed = false;
  /** The end of the previous chunk, so a marker split across two chunks is still seen. */
  private previousEnd: Uint8Array = new Uint8Array(0);

  private error: ProxyError | null = null;

  constructor(private readonly strip: boolean) {}

  /** The bytes to send on for this chunk (possibly none). */
  pass(chunk: Uint8Array): Uint8Array {
    this.pieces.see(chunk);
    if (this.error === null) this.error = inStreamError(chunk);
    if (!this.strip) {
      this.keepTail(chunk);
      return chunk;
    }
    if (!this.armed && !this.finishes(chunk)) return chunk;
    this.armed = true;
    const bytes = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const ends = eventEnds(bytes);
    const complete = ends.at(-1) ?? 0;
    this.pending = complete < bytes.length ? bytes.slice(complete) : null;
    let start = 0;
    for (const end of ends) {
      const value = parseEvent(bytes.subarray(start, end));
      const usage = usageOf(value);
      if (usage) this.found = usage;
      if (usage && isUsageOnly(value)) return Buffer.concat([bytes.subarray(0, start), bytes.subarray(end, complete)]);
      start = end;
    }
    return bytes.subarray(0, complete);
  }

  /**
   * What is still held back when the stream ends (an unterminated last event), to send as is;
   * unless the stream ended cleanly and it is the usage chunk the proxy asked for (a backend that
   * ends without a blank line or `[DONE]`): then its usage is read and it is taken out.
   */
  flush(broken?: boolean): Uint8Array | null {
    const rest = this.pending;
    this.pending = null;
    if (!rest || broken) return rest;
    const value = parseEvent(rest);
    const usage = usageOf(value);
    if (usage) this.found = usage;
    return usage && isUsageOnly(value) ? null : rest;
  }

  /** The usage the stream reported, once it has ended. */
  usage(): Usage | null {
    if (this.found || this.strip) return this.found;
    const bytes = Buffer.concat(this.tail);
    const ends = eventEnds(bytes);
    for (let i = ends.length - 1; i >= 0; i--) {
      const usage = usageOf(parseEvent(bytes.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!)));
      if (usage) return (this.found = usage);
    }
    // The usage event is larger than the tail kept, so the tail starts inside it.
    return (this.found = lastUsageIn(bytes));
  }

  /** An error the backend reported inside its stream (passed on as it came): the request ends as failed, and counts against the target. */
  failure(): ProxyError | null {
    return this.error;
  }

  /** What to charge when the stream ended without its usage (or was cut): see `usageSoFar`. */
  estimate(promptTokens: number): Usage {
    return this.usage() ?? usageSoFar(null, promptTokens, this.pieces.count);
  }

  /**
   * Whether a finish_reason marker is in this chunk, or across its seam with the one before. Runs
   * for every chunk of a stream: it reads the chunk in place and copies only a few bytes at the seam.
   */
  private finishes(chunk: Uint8Array): boolean {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const seam = Buffer.concat([this.previousEnd, bytes.subarray(0, MARKER_OVERLAP)]);
    // A copy: a view would keep the whole chunk alive until the next one.
    const last = bytes.length >= MARKER_OVERLAP ? bytes : seam;
    this.previousEnd = Uint8Array.prototype.slice.call(last, last.length - Math.min(last.length, MARKER_OVERLAP));
    return FINISHED.some((marker) => bytes.includes(marker) || seam.includes(marker));
  }

  private keepTail(chunk: Uint8Array): void {
    this.tail.push(chunk);
    this.tailBytes += chunk.byteLength;
    while (this.tailBytes - this.tail[0]!.byteLength >= TAIL_BYTES) this.tailBytes -= this.tail.shift()!.byteLength;
  }
}
