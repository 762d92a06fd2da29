import { RequestRecord } from "./record";
import { requestIdFor } from "./request-id";
import { withDeadline } from "../lib/deadline";

export type Observer = (record: RequestRecord) => void;

/**
 * The path of a request URL without its query, without parsing the whole URL. A request with no
 * Host header (HTTP/1.0) reaches us with the bare path as its URL.
 */
function pathOf(url: string): string {
  const start = url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/** Where a request keeps its record: a property of its own (a WeakMap lookup costs more per request). */
const RECORD = Symbol("cm-proxy.record");
type WithRecord = Request & { [RECORD]?: RequestRecord };

/**
 * Gives every request its record (and so its id) when it arrives, and hands each record to every
 * observer when it ends. Observers (access log, metrics, usage store) hang off this one point, so
 * the request path knows none of them.
 */
export class Observability {
  private readonly observers: Observer[] = [];
  private readonly settledWaiters: (() => void)[] = [];
  /** Requests begun and not yet ended. */
  inFlight = 0;
  /** The server is closing the connections still open (shutdown): a request cut now was cut by the proxy, not its client. */
  closingConnections = false;

  constructor(private readonly onObserverError: (error: unknown) => void = () => {}) {}

  observe(observer: Observer): void {
    this.observers.push(observer);
  }

  begin(request: Request): RequestRecord {
    this.inFlight++;
    const record = new RequestRecord(requestIdFor(request.headers), request.method, pathOf(request.url), (ended) => this.end(ended));
    (request as WithRecord)[RECORD] = record;
    return record;
  }

  of(request: Request): RequestRecord | undefined {
    return (request as WithRecord)[RECORD];
  }

  /**
   * Resolves once every request begun has ended and its observers have heard of it, or after `ms`:
   * a shutdown waits for it, so the last access lines and usage rows are not lost.
   */
  settled(ms: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.settledWaiters.push(resolve);
    return withDeadline(promise, ms, () => {});
  }

  private end(record: RequestRecord): void {
    this.inFlight--;
    if (this.closingConnections && record.outcome === "client_aborted") record.outcome = "shutdown";
    for (const observer of this.observers) {
      try {
        observer(record);
      } catch (error) {
        this.onObserverError(error);
      }
    }
    if (this.inFlight === 0 && this.settledWaiters.length > 0) for (const wake of this.settledWaiters.splice(0)) wake();
  }
}
