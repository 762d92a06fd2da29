// A backend speaking raw HTTP/1.1 over TCP, for what Bun.serve cannot script: it answers a
// request with the given bytes, keeps the connection open, and drops it without finishing the
// body, e.g. a chunked body without its final chunk (a backend dying mid-stream): when the test
// says so (`cut`), or by its own timer (`endAfterMs`).
import type { Socket } from "bun";
import { deferred, within, type Deferred } from "./events";

export interface RawBackendOptions {
  /**
   * Ends each connection (a FIN, nothing more) this long after answering it, by the backend's own
   * timer: for a test with no step of its own to cut at. The gap matters: Bun's fetch discards body
   * bytes that arrive in the same read as the connection's end, before they are read.
   */
  endAfterMs?: number;
  /**
   * Answers only the first request of each connection and drops the connection when another
   * request arrives on it, with a reset or a plain close (FIN): a backend (or load balancer) that
   * closed an idle keep-alive connection just as the client wrote its next request on it.
   */
  dropReused?: "reset" | "close";
  /**
   * Holds the answers to the first `gather` requests until that many have arrived, then sends them
   * all: the client had that many connections open at once, and its pool keeps them afterwards.
   */
  gather?: number;
}

export interface RawBackend {
  readonly url: string;
  /** Connections dropped because a second request arrived on them (`dropReused`). */
  readonly drops: number;
  /** Connections opened so far. */
  readonly connections: number;
  /** Resolves once a request was answered with the scripted bytes (they are on the wire). */
  answered(ms?: number): Promise<void>;
  /** Resolves once a connection was ended by the `endAfterMs` timer. */
  ended(ms?: number): Promise<void>;
  /** Closes every open connection abruptly, as a crashing backend would. */
  cut(): void;
  stop(): void;
}

export function startRawBackend(response: string, options: RawBackendOptions = {}): RawBackend {
  const open = new Set<Socket<{ head: string }>>();
  let answered: Deferred<void> = deferred();
  const ended = deferred();
  let drops = 0;
  let connections = 0;
  const gathered: Socket<{ head: string }>[] = [];
  const answer = (socket: Socket<{ head: string }>) => {
    socket.write(response);
    socket.flush();
    answered.resolve();
    if (options.endAfterMs === undefined) return;
    setTimeout(() => {
      socket.end();
      ended.resolve();
    }, options.endAfterMs);
  };
  let toGather = options.gather ?? 0;
  const listener = Bun.listen<{ head: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { head: "" };
        open.add(socket);
        connections++;
      },
      data(socket, bytes) {
        const answering = !socket.data.head.includes("\r\n\r\n");
        if (!answering && !options.dropReused) return;
        socket.data.head += new TextDecoder().decode(bytes);
        if (options.dropReused && (socket.data.head.match(/ HTTP\/1\.1\r\n/g)?.length ?? 0) > 1) {
          drops++;
          if (options.dropReused === "reset") socket.terminate();
          else socket.end();
          return;
        }
        if (!answering || !socket.data.head.includes("\r\n\r\n")) return;
        if (toGather === 0) return answer(socket);
        gathered.push(socket);
        if (gathered.length < toGather) return;
        toGather = 0;
        for (const held of gathered.splice(0)) answer(held);
      },
      close(socket) {
        open.delete(socket);
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    get drops() {
      return drops;
    },
    get connections() {
      return connections;
    },
    answered: (ms = 5000) => within(answered.promise, ms, "the raw backend answering"),
    ended: (ms = 5000) => within(ended.promise, ms, "the raw backend ending a connection by its timer"),
    cut() {
      for (const socket of open) socket.terminate();
      open.clear();
      answered = deferred();
    },
    stop: () => listener.stop(true),
  };
}

/** The start of a chunked SSE response whose body is `chunks`, with no terminating zero chunk. */
export function truncatedChunkedSse(chunks: readonly string[]): string {
  const encoder = new TextEncoder();
  const body = chunks.map((chunk) => `${encoder.encode(chunk).byteLength.toString(16)}\r\n${chunk}\r\n`).join("");
  return `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${body}`;
}

export interface FloodingBackend {
  readonly url: string;
  /** Body bytes the backend's socket has taken so far (what the proxy could read of them). */
  readonly pushed: number;
  /** Resolves once the whole body was taken by the socket. */
  readonly finished: Promise<void>;
  stop(): void;
}

/**
 * A backend that answers one request with an SSE stream of `totalBytes` (64 KiB events of `a`s),
 * written as fast as its socket takes it and no faster: how much it got rid of shows how much the
 * proxy read, whether or not its client kept up.
 */
export function startFloodingBackend(totalBytes: number): FloodingBackend {
  const encoder = new TextEncoder();
  const event = `data: ${"a".repeat(64 * 1024 - 8)}\n\n`;
  const piece = encoder.encode(`${event.length.toString(16)}\r\n${event}\r\n`);
  const finished = deferred();
  const end = encoder.encode("0\r\n\r\n");
  let pushed = 0;
  // What the socket has not taken yet of the piece being written.
  let pending: Uint8Array | null = null;
  let ending = false;
  const pump = (socket: Socket<{ answered: boolean }>) => {
    while (!finished.settled) {
      if (!pending) {
        ending = pushed >= totalBytes;
        pending = ending ? end : piece;
        if (!ending) pushed += event.length;
      }
      const wrote = socket.write(pending);
      if (wrote < pending.byteLength) {
        pending = pending.subarray(Math.max(wrote, 0));
        return; // until the socket drains
      }
      if (ending) finished.resolve();
      pending = null;
    }
  };
  const listener = Bun.listen<{ answered: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { answered: false };
      },
      data(socket) {
        if (socket.data.answered) return;
        socket.data.answered = true;
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n");
        pump(socket);
      },
      drain(socket) {
        if (socket.data.answered && !finished.settled) pump(socket);
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    get pushed() {
      return pushed;
    },
    finished: finished.promise,
    stop: () => listener.stop(true),
  };
}
