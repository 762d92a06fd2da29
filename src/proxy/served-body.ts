// The end of the answer a request is served: what the target, the limits and the record learn from it.
import { ProxyError } from "../model/errors";
import type { Admission } from "../limits/limiter";
import type { Outcome, RequestRecord } from "../observe/record";
import type { ProviderAdapter, StreamWatch } from "../providers/provider";
import type { TargetLease } from "../targets/lease";
import { decodedBody } from "../upstream/content-encoding";
import type { RelayEnd } from "../upstream/forward";
import type { BodyEnd } from "../upstream/relay";
import type { Target } from "../model/model";
import { costUsd } from "../pricing/cost";

/** What a served body's end needs to know; nothing else (not the request, its parsed body, the backend's Response) stays alive with the stream. */
export interface ServedBody {
  readonly record: RequestRecord;
  readonly target: Target;
  readonly status: number;
  /** The try's hold on its target; null for a last answer relayed after its try was already judged. */
  readonly lease: TargetLease | null;
  readonly admission: Admission;
  /** Reads the usage of a body read whole; null when the path reports none. */
  readonly provider: ProviderAdapter | null;
  /** The Content-Encoding of a body relayed as the backend sent it (its usage is read from a decoded copy); null when plain. */
  readonly contentEncoding: string | null;
  /** Watches a relayed stream for its usage; undefined when the path reports none. */
  readonly watch: StreamWatch | undefined;
  /** The request's input tokens, estimated: what an answer that reported no usage is charged for its prompt. */
  readonly promptEstimate: number;
  readonly headersAt: number;
}

export interface BodyEnding {
  readonly onEnd: RelayEnd;
  /** The response has been returned: a body ending now ends the record at once. */
  returned: boolean;
  /** A body over before the response was returned (read whole, or none): what ends the record once the response is sent. */
  pending: (() => void) | null;
  /** When a body read whole was read (the headers' arrival until then). */
  bodyReadAt: number;
}

/**
 * The end of a relayed body: frees the target (a break mid-body counts against it), spends the
 * limits, and ends the record with the bytes sent, the usage reported and how it ended. A body over
 * before the answer is even returned (read whole, or none) leaves that to `pending`, run once the
 * response is on its way, off the request path.
 */
export function bodyEnding(served: ServedBody): BodyEnding {
  const { record, target, status, lease, admission, provider, watch, contentEncoding } = served;
  const ending: BodyEnding = {
    returned: false,
    pending: null,
    bodyReadAt: served.headersAt,
    onEnd: (end, bytes, whole) => {
      // A client that left says nothing of the target: only a body that came whole ends its failures in a row.
      lease?.release(end instanceof ProxyError ? "failed" : end === "client_aborted" ? "unjudged" : "served");
      if (end instanceof ProxyError) {
        record.bodyFailures.push({ model: target.modelId, target: target.name, status: end.status, failure: bodyFailure(end) });
      }
      record.bytesOut = bytes;
      const outcome = outcomeOf(end, status);
      // A body read whole before answering took the backend's time, not the proxy's.
      if (whole && !ending.returned) ending.bodyReadAt = performance.now();
      const close = () => {
        // The backend bills what it generated, reported or not: neither a Stop nor a backend that sends no usage makes an answer free.
        const estimate = status < 300 ? served.promptEstimate : null;
        if (whole) record.usage = usageOfWhole(provider, whole, contentEncoding, estimate);
        else {
          const reported = watch?.usage() ?? null;
          // A stream cut short has at most a partial usage (Claude's output count comes only at its end).
          const stillOwed = !reported || end !== "complete";
          record.usage = stillOwed && estimate !== null && watch?.estimate ? watch.estimate(estimate) : reported;
        }
        priceRecord(record, target);
        admission.end(record.usage, record.costUsd);
        record.end(status, outcome);
      };
      if (ending.returned) close();
      else ending.pending = close;
    },
  };
  return ending;
}

/**
 * The usage of a body read whole, decoded first when the backend compressed it; when it names none,
 * the estimate from `promptEstimate` (null: no estimate, the answer was not a success).
 */
function usageOfWhole(provider: ProviderAdapter | null, whole: ArrayBuffer | Uint8Array, contentEncoding: string | null, promptEstimate: number | null) {
  if (!provider) return null;
  const plain = contentEncoding ? decodedBody(whole instanceof Uint8Array ? whole : new Uint8Array(whole), contentEncoding) : whole;
  if (!plain) return null;
  const usage = provider.usageOfBody(plain);
  return usage || promptEstimate === null ? usage : provider.estimateOfBody(plain, promptEstimate);
}

/** The record's cost from its usage and the serving target's price; null (never 0) without either. */
function priceRecord(record: RequestRecord, target: Target): void {
  const price = target.price;
  if (!record.usage || !price) return;
  record.costUsd = costUsd(record.usage, price);
  record.priceSource = price.source;
}

/** Why a body failed after its headers arrived, as metrics and logs name it. */
export const bodyFailure = (error: ProxyError) => (error.status === 504 ? "body_timeout" : "body_broken");

/** How a relayed request ended, for its record. */
function outcomeOf(end: BodyEnd, status: number): Outcome {
  if (end === "client_aborted") return "client_aborted";
  if (end !== "complete") return end.status === 504 ? "timeout" : "upstream_error";
  return status >= 500 || status === 429 ? "upstream_error" : "ok";
}
