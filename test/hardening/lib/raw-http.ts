// Raw TCP on 127.0.0.1, for what fetch cannot say or see: exact request targets (`..`, `%2e%2e`,
// `//`), unusual method tokens, hand-made bodies; and backends that reset the connection before
// any answer. (A backend that drops a stream mid-body is support/raw-backend; one that never
// accepts, support/never-accepting.) Every wait is bounded.
import type { Socket, TCPSocketListener } from "bun";
import { deferred, within } from "../../support/events";
import { recordText } from "../../support/transcript";
import { concat } from "../../support/http";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RawResponse {
  /** False when the server closed the connection without answering anything. */
  readonly answered: boolean;
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
  text(): string;
}

function indexOfCrlfCrlf(bytes: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Decodes a chunked body (as much of it as is there). */
function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    let lineEnd = at;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) lineEnd++;
    const size = parseInt(decoder.decode(bytes.subarray(at, lineEnd)).split(";")[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return concat(parts);
}

export function parseRawResponse(bytes: Uint8Array): RawResponse {
  const end = indexOfCrlfCrlf(bytes);
  if (bytes.length === 0 || end === -1) {
    return { answered: bytes.length > 0, status: 0, headers: new Headers(), body: bytes, text: () => decoder.decode(bytes) };
  }
  const head = decoder.decode(bytes.subarray(0, end)).split("\r\n");
  const status = Number(head[0]!.split(" ")[1]);
  const headers = new Headers();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = dechunk(body);
  return { answered: true, status, headers, body, text: () => decoder.decode(body) };
}

/**
 * Sends `request` (bytes exactly as given; include `Connection: close`) and collects everything
 * until the server closes the connection, or `ms` pass (then what arrived so far is returned).
 */
export async function rawRequest(port: number, request: string | Uint8Array, ms = 5000, label = "raw request"): Promise<RawResponse> {
  const parts: Uint8Array[] = [];
  const closed = deferred();
  let socket: Socket | undefined;
  try {
    socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_s, data) {
          parts.push(new Uint8Array(data));
        },
        close() {
          closed.resolve();
        },
        error() {
          closed.resolve();
        },
        end() {
          closed.resolve();
        },
      },
    });
    socket.write(typeof request === "string" ? encoder.encode(request) : request);
    socket.flush();
    await within(closed.promise, ms, `${label}: the server closing the connection`).catch(() => {});
  } finally {
    socket?.end();
  }
  const bytes = concat(parts);
  recordText(`raw answer to ${label}`, decoder.decode(bytes));
  return parseRawResponse(bytes);
}

/** Builds a raw HTTP/1.1 request. */
export function rawHttp(method: string, target: string, headers: Record<string, string> = {}, body?: string | Uint8Array): Uint8Array {
  const bodyBytes = body === undefined ? new Uint8Array(0) : typeof body === "string" ? encoder.encode(body) : body;
  let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (body !== undefined && !names.has("content-length") && !names.has("transfer-encoding")) head += `Content-Length: ${bodyBytes.length}\r\n`;
  return concat([encoder.encode(head + "\r\n"), bodyBytes]);
}

/** A chunked body, split into chunks of `size` bytes. */
export function chunked(body: Uint8Array, size = 16 * 1024): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(encoder.encode(`${piece.length.toString(16)}\r\n`), piece, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  return concat(parts);
}

/** One request as a raw backend saw it: its request line exactly as sent. */
export interface RawSeen {
  readonly method: string;
  readonly target: string;
  readonly head: string;
  /** The request body (de-chunked). */
  readonly body: Uint8Array;
}

/**
 * A backend on raw TCP that records every request line exactly as received (Bun.serve would
 * normalise `..` away before a test could see it) and answers each with a small JSON 200, closing
 * the connection.
 */
export class RawRecordingBackend {
  readonly seen: RawSeen[] = [];
  private listener: TCPSocketListener<{ buffer: Uint8Array[]; answered: boolean }> | null = null;

  start(): this {
    this.listener = Bun.listen<{ buffer: Uint8Array[]; answered: boolean }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (socket) => {
          socket.data = { buffer: [], answered: false };
        },
        data: (socket, data) => {
          const state = socket.data;
          if (state.answered) return;
          state.buffer.push(new Uint8Array(data));
          const bytes = concat(state.buffer);
          state.buffer = [bytes];
          const end = indexOfCrlfCrlf(bytes);
          if (end === -1) return;
          const head = decoder.decode(bytes.subarray(0, end));
          const body = bytes.subarray(end + 4);
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          const isChunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
          if (length && body.length < Number(length[1])) return;
          if (isChunked && !decoder.decode(body.subarray(Math.max(0, body.length - 5))).endsWith("0\r\n\r\n")) return;
          state.answered = true;
          const [method = "", target = ""] = head.split("\r\n")[0]!.split(" ");
          this.seen.push({ method, target, head, body: isChunked ? dechunk(body) : body.slice() });
          const json = JSON.stringify({ id: "raw", object: "chat.completion", choices: [] });
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n${json}`);
          socket.end();
        },
      },
    });
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listener!.port}`;
  }

  stop(): void {
    this.listener?.stop(true);
    this.listener = null;
  }
}

/** A TCP server that accepts every connection and drops it at once, before any answer. */
export function resettingBackend(when: "on-open" | "on-data") {
  let connections = 0;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        if (when === "on-open") socket.terminate();
      },
      data(socket) {
        socket.terminate();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    get connections() {
      return connections;
    },
    stop: () => listener.stop(true),
  };
}
