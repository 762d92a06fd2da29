/**
 * A backend speaking raw HTTP/1.1 over TCP, for what Bun.serve cannot script: it answers the
 * first request with the given bytes and then closes the socket, e.g. a chunked body cut off
 * before its final chunk (a backend dying mid-stream).
 */
export interface RawBackend {
  readonly url: string;
  stop(): void;
}

export function startRawBackend(response: string): RawBackend {
  const listener = Bun.listen<{ head: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { head: "" };
      },
      data(socket, bytes) {
        if (socket.data.head.includes("\r\n\r\n")) return;
        socket.data.head += new TextDecoder().decode(bytes);
        if (!socket.data.head.includes("\r\n\r\n")) return;
        socket.write(response);
        socket.end();
      },
    },
  });
  return { url: `http://127.0.0.1:${listener.port}`, stop: () => listener.stop(true) };
}

/** The start of a chunked SSE response whose body is `chunks`, with no terminating zero chunk. */
export function truncatedChunkedSse(chunks: readonly string[]): string {
  const encoder = new TextEncoder();
  const body = chunks.map((chunk) => `${encoder.encode(chunk).byteLength.toString(16)}\r\n${chunk}\r\n`).join("");
  return `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${body}`;
}
