// Server-sent events read incrementally from bytes that may split anywhere: inside a line, inside
// a CRLF, inside a multi-byte character. Gemini ends its events with CRLF CRLF; LF and CR alone are
// accepted too, as the SSE spec allows.

export class SseReader {
  private readonly decoder = new TextDecoder();
  private buffer = "";
  private data: string[] = [];

  /** The `data` of every event completed by this chunk (multi-line data joined with `\n`). */
  push(chunk: Uint8Array): string[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  /** The last event, if the stream ended without its blank line. */
  end(): string[] {
    this.buffer += this.decoder.decode();
    const events = this.drain(true);
    if (this.buffer !== "") events.push(...this.line(this.buffer));
    this.buffer = "";
    if (this.data.length > 0) events.push(this.data.join("\n"));
    this.data = [];
    return events;
  }

  private drain(final: boolean): string[] {
    const events: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (c === 13 && i + 1 === this.buffer.length && !final) break;
      events.push(...this.line(this.buffer.slice(start, i)));
      if (c === 13 && this.buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** One line: a blank line dispatches the event; `data:` lines add to it; other fields and comments are ignored. */
  private line(line: string): string[] {
    if (line === "") {
      if (this.data.length === 0) return [];
      const event = this.data.join("\n");
      this.data = [];
      return [event];
    }
    if (line.startsWith("data:")) this.data.push(line.slice(line[5] === " " ? 6 : 5));
    return [];
  }
}
