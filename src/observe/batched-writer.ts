/** How long a line may wait before it is written, and how much text makes a write at once. */
const FLUSH_AFTER_MS = 100;
const FLUSH_AT_CHARS = 64 * 1024;

/**
 * Collects lines and writes them together: a write to stdout is a system call, which under load
 * costs more than the rest of a request's line, even when batched per event-loop turn. Lines go
 * out at most `FLUSH_AFTER_MS` after they were written, or as soon as 64 K characters wait;
 * `flush` writes what waits now (at shutdown).
 */
export function batchedWriter(write: (text: string) => void): { write: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let size = 0;
  let timer: Timer | null = null;
  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    size = 0;
    write(text);
  };
  return {
    write(line) {
      pending.push(line);
      size += line.length;
      if (size >= FLUSH_AT_CHARS) flush();
      else if (timer === null) {
        timer = setTimeout(flush, FLUSH_AFTER_MS);
        timer.unref();
      }
    },
    flush,
  };
}
