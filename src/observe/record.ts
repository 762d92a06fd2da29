import type { Usage } from "../model/usage";

/**
 * How a request ended, as the access log and the usage rows name it; `shutdown`: the proxy itself
 * closed the connection (the drain timeout ran out, or a second signal came).
 */
export type Outcome = "ok" | "client_aborted" | "upstream_error" | "timeout" | "shutdown";

/** One try of a model request at one target. */
export interface Try {
  readonly model: string;
  readonly target: string;
  /** The backend's status, or the proxy's own 502/504 when no answer came. */
  readonly status: number;
  /** Why it failed (`status_500`, `connect`, `timeout`, `connection_dropped`), or null when it was relayed. */
  readonly failure: string | null;
}

/** Open WebUI's user headers, kept for usage accounting even when they are not forwarded. */
export interface UserInfo {
  readonly id: string | null;
  readonly email: string | null;
  readonly name: string | null;
}

/**
 * Everything observers learn about one request, filled in as it goes (by the app's hooks, the
 * client-access step and the router) and handed to every observer once, when it ends: after the
 * last byte of a relayed body, or when the proxy's own answer has been sent. Observers read it;
 * nothing in the request path waits on them.
 */
export class RequestRecord {
  /** performance.now() at arrival: every duration below is measured from it. */
  readonly startMono = performance.now();
  readonly startedAt = Date.now();
  /** The model the client named, once known; null for requests that name none. */
  modelRequested: string | null = null;
  /** The model id configured or discovered for the request; "unknown" when it named one that is not. */
  modelLabel: string | null = null;
  servedModel: string | null = null;
  servedTarget: string | null = null;
  readonly tries: Try[] = [];
  readonly fallbacks: string[] = [];
  /** Relayed bodies that broke or stalled after their headers (`body_broken`, `body_timeout`), at which target. */
  readonly bodyFailures: Try[] = [];
  clientName: string | null = null;
  /** The client key's id (a key issued at runtime); null for a config-file key or an open proxy. */
  clientKeyId: string | null = null;
  /** The limit that refused the request, if one did. */
  limitedBy: { readonly scope: string; readonly kind: string } | null = null;
  user: UserInfo | null = null;
  status = 0;
  bytesOut = 0;
  /** When the served backend's headers arrived, ms after arrival. */
  ttfbMs: number | null = null;
  /** Time spent in the proxy itself: arrival → first backend fetch, plus backend headers → client headers. */
  overheadMs: number | null = null;
  /** ms after arrival when the first backend fetch started. */
  fetchStartMs: number | null = null;
  usage: Usage | null = null;
  /** What the answer cost in US dollars, from `usage` and the served target's price; null when unpriced or no usage. */
  costUsd: number | null = null;
  /** Where the price came from (`config`, or the built-in table), or null when unpriced. */
  priceSource: string | null = null;
  outcome: Outcome = "ok";
  durationMs = 0;
  /** The response body is relayed: the record ends with the body, not when the handler returns. */
  endsWithBody = false;
  /** A relayed body that was over before its response was sent: run once it is (it ends the record). */
  afterResponse: (() => void) | null = null;
  private ended = false;

  constructor(
    readonly id: string,
    readonly method: string,
    readonly path: string,
    private readonly onEnd: (record: RequestRecord) => void,
  ) {}

  /** Milliseconds since arrival. */
  elapsed(): number {
    return performance.now() - this.startMono;
  }

  /** A model request: the usage store and the per-model metrics count it. */
  get isModelRequest(): boolean {
    return this.modelRequested !== null;
  }

  end(status: number, outcome: Outcome = this.outcome): void {
    if (this.ended) return;
    this.ended = true;
    this.status = status;
    this.outcome = outcome;
    this.durationMs = this.elapsed();
    this.onEnd(this);
  }
}
