// A server-sent events reader fed with byte chunks cut anywhere: in a line, in a CRLF, in a UTF-8
// character. It yields whole events only, so what is made of them cannot depend on the cuts.

export interface SseEvent {
  /** The `event:` field; "message" when the event named none. */
  readonly event: string;
  /** The `data:` lines, joined with "\n" as the SSE spec joins them. */
  readonly data: string;
}

export class SseReader {
  private readonly decoder = new TextDecoder();
  /** The start of a line whose end has not arrived yet. */
  private rest = "";
  private event = "";
  private data: string[] | null = null;

  push(chunk: Uint8Array): SseEvent[] {
    return this.read(this.decoder.decode(chunk, { stream: true }), false);
  }

  /**
   * The events still held when the body ends. A last event whose blank line never came is given
   * too (the spec drops it, but its data lines are complete, and dropping a final event loses it).
   */
  end(): SseEvent[] {
    const events = this.read(this.decoder.decode(), true);
    if (this.rest !== "") this.line(this.rest, events);
    this.rest = "";
    this.line("", events);
    return events;
  }

  private read(more: string, final: boolean): SseEvent[] {
    const text = this.rest === "" ? more : this.rest + more;
    const events: SseEvent[] = [];
    const hasCR = text.includes("\r");
    let start = 0;
    for (;;) {
      const lf = text.indexOf("\n", start);
      const cr = hasCR ? text.indexOf("\r", start) : -1;
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end < 0) break;
      let next = end + 1;
      if (end === cr) {
        // A CR at the very end may be the first half of a CRLF: wait for the next byte.
        if (next === text.length && !final) break;
        if (text[next] === "\n") next++;
      }
      this.line(text.slice(start, end), events);
      start = next;
    }
    this.rest = text.slice(start);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.data !== null) events.push({ event: this.event || "message", data: this.data.join("\n") });
      this.event = "";
      this.data = null;
      return;
    }
    if (line.startsWith(":")) return; // a comment
    // OpenAI-compatible servers' in-stream errors outside SSE's data lines, read as the data of an
    // error chunk (`{"error": …}`) so a translation sees them: Ollama writes a bare JSON line.
    if (line.startsWith("{")) {
      events.push({ event: "message", data: line });
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") (this.data ??= []).push(value);
    else if (field === "event") this.event = value;
    // llama.cpp's `error: {…}` line (then `data: [DONE]`).
    else if (field === "error") (this.data ??= []).push(`{"error":${value.startsWith("{") ? value : JSON.stringify(value)}}`);
  }
}
