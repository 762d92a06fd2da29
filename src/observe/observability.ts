import { RequestRecord } from "./record";
import { requestIdFor } from "./request-id";

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

/**
 * Gives every request its record (and so its id) when it arrives, and hands each record to every
 * observer when it ends. Observers (access log, metrics, usage store) hang off this one point, so
 * the request path knows none of them.
 */
/** Where a request keeps its record: a property of its own (a WeakMap lookup costs more per request). */
const RECORD = Symbol("cm-proxy.record");
type WithRecord = Request & { [RECORD]?: RequestRecord };

export class Observability {
  private readonly observers: Observer[] = [];
  /** Requests begun and not yet ended. */
  inFlight = 0;

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

  private end(record: RequestRecord): void {
    this.inFlight--;
    for (const observer of this.observers) {
      try {
        observer(record);
      } catch (error) {
        this.onObserverError(error);
      }
    }
  }
}
