// A scriptable OpenAI-style backend on 127.0.0.1 (port 0). It records every request it receives
// (method, path + query, headers, raw body bytes) and answers with whatever the current test
// scripted: JSON, raw bytes (optionally gzip), an SSE stream paced by the mock's own timers, an
// error with headers, or nothing at all (hang). Each recorded request exposes `closed`, resolved
// when the proxy side aborted or closed the connection before the reply was complete.
import { deferred, EventLog, within, type Deferred } from "./events";
import { RecordingServer } from "./recording-server";

export type Headerish = Record<string, string>;

export type Reply =
  | {
      kind: "json";
      body: unknown;
      status?: number;
      headers?: Headerish;
      /** Think this long (the mock's own timer) before sending anything, headers included. */
      delayMs?: number;
    }
  | {
      kind: "raw";
      body: string | Uint8Array;
      status?: number;
      headers?: Headerish;
      /** "always" gzips whatever the client accepts; "if-accepted" only when Accept-Encoding allows it. */
      gzip?: "always" | "if-accepted";
    }
  | {
      kind: "sse";
      chunks: readonly (string | Uint8Array)[];
      /** Pause before every chunk after the first, driven by the mock's timers. */
      delayMs?: number;
      /** Send only this many chunks, then keep the connection open and silent. */
      stallAfter?: number;
      status?: number;
      headers?: Headerish;
    }
  | { kind: "hang" };

/** Constructors for the replies a test scripts. */
export const reply = {
  json: (body: unknown, options: Omit<Extract<Reply, { kind: "json" }>, "kind" | "body"> = {}): Reply => ({ kind: "json", body, ...options }),
  raw: (body: string | Uint8Array, options: Omit<Extract<Reply, { kind: "raw" }>, "kind" | "body"> = {}): Reply => ({
    kind: "raw",
    body,
    ...options,
  }),
  sse: (chunks: readonly (string | Uint8Array)[], options: Omit<Extract<Reply, { kind: "sse" }>, "kind" | "chunks"> = {}): Reply => ({
    kind: "sse",
    chunks,
    ...options,
  }),
  hang: (): Reply => ({ kind: "hang" }),
};

export interface RecordedRequest {
  readonly method: string;
  /** pathname + query string, exactly as received */
  readonly path: string;
  readonly pathname: string;
  readonly search: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  text(): string;
  json(): any;
  /** Resolved when the proxy aborted or closed this request before its reply was complete. */
  readonly closed: Promise<void>;
  readonly wasClosed: boolean;
  /** `sent:<i>` for every SSE chunk written, `done` when a reply finished; tests may add their own. */
  readonly log: EventLog;
}

type Script = Reply | ((request: RecordedRequest) => Reply);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const toBytes = (data: string | Uint8Array): Uint8Array<ArrayBuffer> => (typeof data === "string" ? encoder.encode(data) : new Uint8Array(data));

/** What the default reply looks like: an OpenAI chat completion naming the backend and the model it got. */
export function defaultCompletion(backend: string, model: unknown) {
  return {
    id: `chatcmpl-${backend}`,
    object: "chat.completion",
    created: 1700000000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: `hello from ${backend}` }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
  };
}

export class MockBackend extends RecordingServer<RecordedRequest, Script> {
  private arrivals: { count: number; done: Deferred<void> }[] = [];
  private readonly releases = new Set<() => void>();

  /** Forgets the recorded requests and the script; open hangs and stalls are released. */
  override reset(): void {
    super.reset();
    this.arrivals = [];
    for (const release of this.releases) release();
    this.releases.clear();
  }

  /** Resolves once `count` requests were received in total since the last reset. */
  async waitForRequests(count: number, ms = 5000): Promise<RecordedRequest> {
    if (this.requests.length < count) {
      const done = deferred();
      this.arrivals.push({ count, done });
      await within(done.promise, ms, `mock ${this.name} receiving ${count} request(s)`);
    }
    return this.requests[count - 1]!;
  }

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const closed = deferred();
    let complete = false;
    const markClosed = () => {
      if (!complete && !closed.settled) closed.resolve();
    };
    request.signal.addEventListener("abort", markClosed, { once: true });
    const body = new Uint8Array(await request.arrayBuffer().catch(() => new ArrayBuffer(0)));
    const recorded: RecordedRequest = {
      method: request.method,
      path: url.pathname + url.search,
      pathname: url.pathname,
      search: url.search,
      headers: new Headers(request.headers),
      body,
      text: () => decoder.decode(body),
      json: () => JSON.parse(decoder.decode(body)),
      closed: closed.promise,
      get wasClosed() {
        return closed.settled;
      },
      log: new EventLog(),
    };
    if (request.signal.aborted) markClosed();
    this.requests.push(recorded);
    for (const arrival of this.arrivals) if (this.requests.length >= arrival.count) arrival.done.resolve();

    const script = this.script ?? this.defaultReply;
    const chosen = typeof script === "function" ? script(recorded) : script;
    const finish = () => {
      complete = true;
      recorded.log.push("done");
    };
    return this.respond(chosen, recorded, request, markClosed, finish);
  }

  private readonly defaultReply = (request: RecordedRequest): Reply => {
    let model: unknown = null;
    try {
      model = request.json().model;
    } catch {}
    return reply.json(defaultCompletion(this.name, model), { headers: { "x-request-id": `req-${this.name}` } });
  };

  private respond(chosen: Reply, recorded: RecordedRequest, request: Request, markClosed: () => void, finish: () => void): Response | Promise<Response> {
    switch (chosen.kind) {
      case "json": {
        const answer = () => {
          finish();
          return new Response(JSON.stringify(chosen.body), {
            status: chosen.status ?? 200,
            headers: { "content-type": "application/json", ...chosen.headers },
          });
        };
        if (!chosen.delayMs) return answer();
        return new Promise<Response>((resolve) => {
          const timer = setTimeout(() => resolve(answer()), chosen.delayMs);
          request.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            markClosed();
            resolve(new Response(null, { status: 599 }));
          });
        });
      }
      case "raw": {
        const accepts = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
        const gzip = chosen.gzip === "always" || (chosen.gzip === "if-accepted" && accepts);
        const bytes = toBytes(chosen.body);
        finish();
        return new Response(gzip ? Bun.gzipSync(bytes) : bytes, {
          status: chosen.status ?? 200,
          headers: { ...chosen.headers, ...(gzip ? { "content-encoding": "gzip" } : {}) },
        });
      }
      case "sse":
        return new Response(this.sseStream(chosen, recorded, markClosed, finish), {
          status: chosen.status ?? 200,
          headers: { "content-type": "text/event-stream", ...chosen.headers },
        });
      case "hang":
        return new Promise<Response>((resolve) => {
          const release = () => resolve(new Response("released", { status: 599 }));
          this.releases.add(release);
          request.signal.addEventListener("abort", () => {
            markClosed();
            this.releases.delete(release);
            release();
          });
        });
    }
  }

  private sseStream(chosen: Extract<Reply, { kind: "sse" }>, recorded: RecordedRequest, markClosed: () => void, finish: () => void) {
    const limit = Math.min(chosen.stallAfter ?? chosen.chunks.length, chosen.chunks.length);
    const stalls = chosen.stallAfter !== undefined;
    let timer: Timer | undefined;
    let cancelled = false;
    const releases = this.releases;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        // The stall is registered in the same step as the last chunk it follows: a `reset()` made
        // once that chunk is seen (even before a timer could run) must end the stream.
        const stall = () => {
          recorded.log.push("stalled");
          releases.add(() => {
            try {
              controller.close();
            } catch {}
          });
        };
        const send = (index: number) => {
          if (cancelled) return;
          if (index >= limit) {
            if (stalls) return stall();
            finish();
            return controller.close();
          }
          controller.enqueue(toBytes(chosen.chunks[index]!));
          recorded.log.push(`sent:${index}`);
          if (stalls && index + 1 === limit) return stall();
          timer = setTimeout(send, index + 1 < limit ? (chosen.delayMs ?? 0) : 0, index + 1);
        };
        send(0);
      },
      cancel() {
        cancelled = true;
        clearTimeout(timer);
        markClosed();
      },
    });
  }
}

/** Starts a mock backend named `name`. */
export const startMock = (name: string) => new MockBackend(name).start();
