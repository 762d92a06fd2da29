import { sseErrorEvent, type ProxyError } from "../model/errors";

const encoder = new TextEncoder();
const EVENT_END = encoder.encode("\n\n");
const [LF, CR] = [10, 13];

export interface RelayOptions {
  /** Longest silence allowed between two chunks. */
  readonly idleMs: number;
  /** An event stream ends with a final error event; other bodies can only be cut. */
  readonly eventStream: boolean;
  readonly idleError: () => ProxyError;
  readonly lostError: () => ProxyError;
  /** The filter could not read what the backend sent (it threw). */
  readonly unreadableError: () => ProxyError;
  /**
   * Called once when the body is over, however it ended, with the bytes the client was sent and,
   * when `keepUpTo` asked for it, the whole body if it came complete within that many bytes.
   */
  readonly onEnd?: (end: BodyEnd, bytesSent: number, whole: Uint8Array | null) => void;
  /** Keep a copy of the body as it passes, up to this many bytes (0: none). */
  readonly keepUpTo?: number;
  /** Sees every chunk on its way and decides what goes on (usage accounting). */
  readonly filter?: ChunkFilter;
}

/** Reads (and may take bytes out of, or rewrite) a relayed body; whatever it holds back is flushed at the end. */
export interface ChunkFilter {
  pass(chunk: Uint8Array): Uint8Array;
  /**
   * `broken`: the body did not end cleanly. The relay sends its own (OpenAI-shaped) error event
   * after what this returns, unless the filter `endsBrokenStreams` itself.
   */
  flush(broken?: boolean): Uint8Array | null;
  /** The client's wire format has an error event of its own, which `flush(true)` ends a broken stream with. */
  readonly endsBrokenStreams?: boolean;
  /** An error the stream itself reported (a translated stream's error event, or a cut it noticed): the body ends as failed. */
  failure?(): ProxyError | null;
}

/** How a relayed body ended: in full, cut by the client, or broken by the backend. */
export type BodyEnd = "complete" | "client_aborted" | ProxyError;

/**
 * Relays a backend body chunk by chunk, unchanged and unbuffered. When the backend falls silent
 * longer than `idleMs`, or its connection breaks, after bytes were sent (the status can no longer
 * change) an event stream gets a final error event (`data: {"error":...}`, or the filter's own) and
 * a clean end, so no client hangs. Cancelling the relay (the client went away) cancels the backend body at once.
 */
export function relayBody(body: ReadableStream<Uint8Array>, options: RelayOptions): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let waiting = false;
  let idle = false;
  let cancelled = false;
  let ended = false;
  let sent = 0;
  // The last two bytes the client was sent (numbers, not a view: a view would keep the backend's
  // chunk alive), to tell whether they end an SSE event (LF LF or CR CR), so an event written next
  // stands on its own. Nothing sent counts as an end; a CRLF CRLF end reads as none, and the extra
  // blank line written then is harmless (it dispatches nothing).
  let secondLast = LF;
  let lastByte = LF;
  const saw = (bytes: Uint8Array) => {
    const n = bytes.byteLength;
    if (n === 0) return;
    secondLast = n > 1 ? bytes[n - 2]! : lastByte;
    lastByte = bytes[n - 1]!;
  };
  const atEventEnd = () => secondLast === lastByte && (lastByte === LF || lastByte === CR);
  const keepUpTo = options.keepUpTo ?? 0;
  let kept: Uint8Array[] | null = keepUpTo > 0 ? [] : null;
  const keep = (chunk: Uint8Array) => {
    if (kept === null) return;
    if (sent > keepUpTo) kept = null;
    else kept.push(chunk.slice()); // a copy: the reader's buffer is not ours to hold
  };
  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    options.onEnd?.(how, sent, how === "complete" && kept ? Buffer.concat(kept) : null);
  };
  const { filter } = options;
  const timer = setTimeout(function onSilence() {
    if (!waiting) return void timer.refresh(); // the client is slow, not the backend
    idle = true;
    reader.cancel(options.idleError()).catch(() => {});
  }, options.idleMs);

  const stop = (reason?: unknown) => {
    cancelled = true;
    clearTimeout(timer);
    end("client_aborted");
    return reader.cancel(reason);
  };

  // A Bun "direct" stream: chunks are written straight to the client's socket, with no queue of
  // their own between the backend's reader and the response.
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      let failure: ProxyError | null = null;
      for (;;) {
        waiting = true;
        timer.refresh();
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch {
          failure = idle ? options.idleError() : options.lostError();
          break;
        } finally {
          waiting = false;
        }
        if (chunk.done) {
          if (idle) failure = options.idleError();
          break;
        }
        let out: Uint8Array;
        try {
          out = filter ? filter.pass(chunk.value) : chunk.value;
        } catch {
          // A translation met an event it cannot read: the body ends as broken, with its end
          // told and its error event sent, rather than the response failing with neither.
          failure = options.unreadableError();
          reader.cancel(failure).catch(() => {});
          break;
        }
        if (out.byteLength === 0) continue;
        sent += out.byteLength;
        keep(out);
        controller.write(out);
        saw(out);
        // `true`: until the client's socket took it, so a slow client holds the backend back
        // instead of the proxy holding the stream in memory for it.
        await controller.flush(true);
      }
      clearTimeout(timer);
      let rest: Uint8Array | null = null;
      try {
        rest = cancelled ? null : (filter?.flush(failure !== null) ?? null);
      } catch {
        failure ??= options.unreadableError();
      }
      // A broken event stream ends with an error event of its own: after a blank line when the
      // backend broke off inside an event, so line-by-line clients (Open WebUI) still read it.
      const broken = failure !== null && !cancelled && options.eventStream;
      const write = (bytes: Uint8Array) => {
        sent += bytes.byteLength;
        controller.write(bytes);
        saw(bytes);
      };
      if (rest) {
        if (broken && filter?.endsBrokenStreams && !atEventEnd()) write(EVENT_END);
        write(rest);
      }
      const reported = cancelled || failure ? null : (filter?.failure?.() ?? null);
      if (broken && failure && !filter?.endsBrokenStreams) {
        if (!atEventEnd()) write(EVENT_END);
        write(encoder.encode(sseErrorEvent(failure)));
      }
      end(cancelled ? "client_aborted" : (failure ?? reported ?? "complete"));
      if (failure && !cancelled && !options.eventStream) throw failure;
      controller.close();
    },
    cancel: stop,
  });
}
