// Helpers for the routing tests (distribution, retry, failover): a backend that can be stopped and
// restarted on the same port (the shared mock always takes a fresh one), the routing response
// headers, and a bounded way to run many requests with limited concurrency.
import { deferred, within, type Deferred } from "../support/events";

/** The routing headers of a response: which model was asked for, what served it, how many tries. */
export function routing(response: Response) {
  return {
    model: response.headers.get("x-cm-proxy-model"),
    servedBy: response.headers.get("x-cm-proxy-served-by"),
    attempts: response.headers.get("x-cm-proxy-attempts"),
  };
}

/** What a `RestartableBackend` received: when (performance.now()) and through which incarnation. */
export interface Arrival {
  readonly at: number;
  /** 1 for the first start, 2 after the first restart, … */
  readonly life: number;
  readonly request: Request;
  readonly body: unknown;
}

type Handler = (request: Request, arrival: Arrival) => Response | Promise<Response>;

/**
 * A backend on a port of its own that `stop()` closes abruptly (open connections included, as a
 * crashing process would) and `start()` brings back on the same port.
 */
export class RestartableBackend {
  readonly arrivals: Arrival[] = [];
  private server: ReturnType<typeof Bun.serve> | null = null;
  private life = 0;
  private fixedPort = 0;
  private waiters: { count: number; done: Deferred<void> }[] = [];

  constructor(
    readonly name: string,
    private handler: Handler,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.fixedPort}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** Starts (first on a free port, later on the same one). */
  start(): this {
    this.life++;
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: this.fixedPort,
      idleTimeout: 0,
      fetch: async (request) => {
        const text = await request.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        const arrival: Arrival = { at: performance.now(), life: this.life, request, body };
        this.arrivals.push(arrival);
        this.waiters = this.waiters.filter((waiter) => {
          if (this.arrivals.length < waiter.count) return true;
          waiter.done.resolve();
          return false;
        });
        return this.handler(request, arrival);
      },
    });
    this.fixedPort = this.server.port!;
    return this;
  }

  /** Closes the listener and every open connection at once. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop(true);
  }

  willAnswer(handler: Handler): void {
    this.handler = handler;
  }

  /** Resolves once `count` requests arrived in total. */
  async waitForArrivals(count: number, ms = 5000): Promise<void> {
    if (this.arrivals.length >= count) return;
    const done = deferred();
    this.waiters.push({ count, done });
    await within(done.promise, ms, `${this.name} receiving ${count} request(s)`);
  }
}

/** An OpenAI chat completion naming the backend that wrote it. */
export const completionFrom = (backend: string) => ({
  id: `chatcmpl-${backend}`,
  object: "chat.completion",
  created: 1700000000,
  model: backend,
  choices: [{ index: 0, message: { role: "assistant", content: `hello from ${backend}` }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
});

/** One SSE chunk of a streamed chat completion. */
export const sseChunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
