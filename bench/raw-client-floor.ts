// A reference for bench/FINDINGS.md ("Tenth session"), not a target the bars judge: the floor with
// Bun's fetch replaced by the least HTTP/1.1 client that serves the bench's non-streamed chat (one
// keep-alive connection per request in flight, a Content-Length body, nothing else: no chunked
// bodies, streams, TLS, timeouts or errors worth the name). What it saves against the floor is the
// most any proxy could win by writing its own HTTP client instead of calling fetch.
// Usage: FLOOR_BACKEND=http://127.0.0.1:PORT bun bench/raw-client-floor.ts [port], or as a target of
// `bun bench/ab.ts raw=bench/raw-client-floor.ts`.
import type { Socket } from "bun";
import { serveFloor } from "./floor-work";
import { BACKEND_KEY, BACKEND_MODEL } from "./shared";

const base = new URL(process.env.FLOOR_BACKEND ?? "http://127.0.0.1:8000");
const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: ${base.host}\r\ncontent-type: application/json\r\nauthorization: Bearer ${BACKEND_KEY}\r\nconnection: keep-alive\r\ncontent-length: `;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Connection {
  socket: Socket<undefined> | null;
  waiting: { resolve: (response: Response) => void; reject: (error: unknown) => void } | null;
  bytes: Uint8Array | null;
}
const idle: Connection[] = [];

/** The index of the blank line that ends the head, or -1 while it has not all arrived. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  return -1;
}

/** Answers the waiting request once its head and its Content-Length of body have arrived. */
function answer(connection: Connection): void {
  const bytes = connection.bytes!;
  const end = headEnd(bytes);
  if (end < 0) return;
  const lines = decoder.decode(bytes.subarray(0, end)).split("\r\n");
  let length = 0;
  let type = "application/json";
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    if (name === "content-length") length = Number(line.slice(colon + 1));
    else if (name === "content-type") type = line.slice(colon + 1).trim();
  }
  if (bytes.length < end + 4 + length) return;
  const waiting = connection.waiting!;
  connection.bytes = null;
  connection.waiting = null;
  idle.push(connection);
  waiting.resolve(new Response(bytes.slice(end + 4, end + 4 + length), { status: Number(lines[0]!.slice(9, 12)), headers: { "content-type": type } }));
}

async function connect(): Promise<Connection> {
  const connection: Connection = { socket: null, waiting: null, bytes: null };
  connection.socket = await Bun.connect({
    hostname: base.hostname,
    port: Number(base.port),
    socket: {
      data(_socket, data) {
        connection.bytes = connection.bytes ? Buffer.concat([connection.bytes, data]) : data;
        answer(connection);
      },
      close() {
        const at = idle.indexOf(connection);
        if (at >= 0) idle.splice(at, 1);
        connection.waiting?.reject(new Error("connection closed"));
      },
      error(_socket, error) {
        connection.waiting?.reject(error);
      },
    },
  });
  return connection;
}

async function send(body: string): Promise<Response> {
  const connection = idle.pop() ?? (await connect());
  const bytes = encoder.encode(body);
  return new Promise((resolve, reject) => {
    connection.waiting = { resolve, reject };
    connection.socket!.write(`${head}${bytes.length}\r\n\r\n`);
    connection.socket!.write(bytes);
  });
}

serveFloor(async (request) => {
  const body = (await request.json()) as { model: string };
  body.model = BACKEND_MODEL;
  return send(JSON.stringify(body));
});
