import { badGateway, gatewayTimeout, payloadTooLarge, ProxyError } from "../model/errors";
import type { Target } from "../model/model";
import { declaredLength, limitStream, readUpTo } from "./body-limit";
import { canConnect } from "./connect-check";
import { downstreamResponseHeaders, isEventStream, type HeaderRecord } from "./headers";
import { secretOf, withoutSecret } from "./redact";
import { relayBody, type BodyEnd, type ChunkFilter, type RelayOptions } from "./relay";

export interface UpstreamRequest {
  readonly target: Target;
  /** Path below `<url>/v1/`, without a leading slash, with the query string if any. */
  readonly path: string;
  readonly method: string;
  readonly headers: HeaderRecord;
  readonly body: RequestInit["body"];
  /** Bound for a streamed body, whose length is known only as it is read. */
  readonly maxBodyBytes: number;
  /** Aborts when the client goes away; the backend request is aborted with it. */
  readonly clientSignal: AbortSignal;
  /** Open a new connection instead of reusing a pooled one. */
  readonly fresh?: boolean;
  /** Let fetch decode a compressed answer (one that is rewritten, not relayed as it came). */
  readonly decompress?: boolean;
}

/** A backend answer whose headers are in and whose body is not read yet. */
export interface Sent {
  readonly target: Target;
  readonly response: Response;
  readonly abort: AbortController;
  readonly clientSignal: AbortSignal;
  readonly onClientGone: () => void;
}

/** The client left before the answer; nobody reads this response, it only ends the handler. */
export const clientClosed = () => new ProxyError(499, "Client closed the request", "invalid_request_error", "client_closed");

function failureReason(error: unknown): string {
  // Bun's fetch errors carry a short code (ECONNREFUSED, ECONNRESET, …); their message and
  // `path` may hold the full backend URL, which can carry credentials, so only the code is shown.
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && code ? code : "connection failed";
}

/**
 * The codes of a connection that was reset, closed or refused before any byte of an answer. Bun
 * reports a reset and a plain close (FIN) alike as ECONNRESET; its older releases named a close
 * ConnectionClosed and a refusal ConnectionRefused.
 */
const DROPPED = new Set(["ECONNRESET", "ConnectionClosed", "EPIPE", "ECONNREFUSED", "ConnectionRefused"]);

/**
 * No answer came because the connection went away under the request, not because the backend
 * answered: a pooled keep-alive connection the backend (or a load balancer) closed just as the
 * request was written on it, or a connect refused while the backend was between two listeners (a
 * restart). Worth one immediate try on a fresh connection.
 */
export class ConnectionDropped extends ProxyError {}

/**
 * One timer per request until the response headers arrive: at `connectMs` a TCP connect check asks whether the
 * backend accepts connections (504 if not), and at `firstByteMs` the wait ends with a 504.
 * Returns the function that stops watching once the headers are in.
 */
function watchForHeaders(url: string, target: Target, abort: AbortController): () => void {
  const { connectMs, firstByteMs } = target.timeouts;
  let arrived = false;
  const timeout = () => abort.abort(gatewayTimeout(target.modelId, `no response within ${firstByteMs} ms`));
  const checkConnect = async () => {
    timer = setTimeout(timeout, firstByteMs - connectMs);
    const connected = await canConnect(url, connectMs);
    if (!connected && !arrived) abort.abort(gatewayTimeout(target.modelId, `could not connect within ${connectMs} ms`));
  };
  let timer = connectMs < firstByteMs ? setTimeout(checkConnect, connectMs) : setTimeout(timeout, firstByteMs);
  return () => {
    arrived = true;
    clearTimeout(timer);
  };
}

/**
 * Sends one request to a target and waits for the response headers. Failures before they arrive
 * become 502/504 ProxyErrors (499 when the client left first); the body is left unread, for
 * `relay` to pass on or `discard` to drop.
 */
export async function send(request: UpstreamRequest): Promise<Sent> {
  const { target, clientSignal } = request;
  const url = target.prefix + request.path;
  const abort = new AbortController();
  const onClientGone = () => abort.abort(clientClosed());
  if (clientSignal.aborted) throw clientClosed();
  clientSignal.addEventListener("abort", onClientGone, { once: true });

  const stopWatching = watchForHeaders(url, target, abort);

  const body =
    request.body instanceof ReadableStream
      ? limitStream(request.body, request.maxBodyBytes, () => abort.abort(payloadTooLarge(request.maxBodyBytes)))
      : request.body;

  try {
    const response = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body,
      signal: abort.signal,
      redirect: "manual",
      decompress: request.decompress ?? false,
      timeout: false, // our own timers govern; Bun's default would cut a long first-byte wait
      keepalive: !request.fresh,
    });
    return { target, response, abort, clientSignal, onClientGone };
  } catch (error) {
    clientSignal.removeEventListener("abort", onClientGone);
    if (abort.signal.reason instanceof ProxyError) throw abort.signal.reason;
    const reason = failureReason(error);
    const failure = badGateway(target.modelId, reason);
    if (DROPPED.has(reason)) throw new ConnectionDropped(failure.status, failure.message, failure.type, failure.code);
    throw failure;
  } finally {
    stopWatching();
  }
}

/** Drops an answer that will not be relayed (a retry follows), freeing its connection. */
export function discard(sent: Sent): void {
  sent.clientSignal.removeEventListener("abort", sent.onClientGone);
  sent.response.body?.cancel().catch(() => {});
}

/**
 * An answer whose body is read now, before it may be relayed: `sent` again with that body kept in
 * memory (relayed later as if it came now), and the body. Read like any answer read whole: within
 * one idle timeout, bounded, fetch's decoding done. Throws the ProxyError of a body that broke or stalled.
 */
export async function readAhead(sent: Sent): Promise<{ readonly sent: Sent; readonly body: Uint8Array }> {
  const { response } = sent;
  const read = response.body ? await readWhole(sent, true, bodyFailures(sent.target)) : new Uint8Array(0);
  const body = read instanceof Uint8Array ? read : new Uint8Array(read);
  const headers = new Headers(response.headers);
  // What fetch decoded is kept decoded: the length and coding described the backend's bytes.
  headers.delete("content-length");
  headers.delete("content-encoding");
  const kept = new Response(body, { status: response.status, statusText: response.statusText, headers });
  return { sent: { ...sent, response: kept }, body };
}

/**
 * Called once when a relayed body is over: how it ended, the bytes sent, and the whole body when it
 * was read whole or, asked for with `keepWhole`, kept whole as it passed. Not called when a body to
 * be read whole fails before answering: `relay` throws then.
 */
export type RelayEnd = (end: BodyEnd, bytesSent: number, whole: ArrayBuffer | Uint8Array | null) => void;

/** How `relay` reads an answer besides passing it on. */
export interface RelayReading {
  /** Sees every chunk of an event stream (usage accounting, or a translation). */
  readonly filter?: ChunkFilter;
  /** Translates an answer in another wire format than the client's. */
  readonly rewrite?: AnswerRewrite;
  /**
   * A body that is neither read whole nor an event stream (its length not announced, or large) is
   * kept as it passes, up to the size a body is read whole at, for `onEnd`: a non-streamed answer
   * sent in chunks still has its usage read.
   */
  readonly keepWhole?: boolean;
}

/**
 * An answer in another wire format than the client's, rewritten as it is relayed: a 2xx event
 * stream through the relay's filter, any other body read whole and replaced.
 */
export interface AnswerRewrite {
  /** The status the client is sent for the backend's (and the one the proxy judges it by). */
  status(backendStatus: number): number;
  /**
   * A body read whole (with the backend's own status), in the client's format: its JSON, or the
   * error it stands for. Throws a ProxyError for a body it cannot read.
   */
  whole(backendStatus: number, body: ArrayBuffer | Uint8Array): string | ProxyError;
}

/**
 * The client's response for a backend answer: its status and cleaned headers (plus `extra`), its
 * body streamed through untouched (or through `reading.filter`, for an event stream), or rewritten
 * into the client's format by `reading.rewrite`. `onEnd` is called once, when the body is over.
 */
export async function relay(sent: Sent, extra: HeaderRecord, onEnd: RelayEnd, reading: RelayReading = {}): Promise<Response> {
  const { filter, rewrite } = reading;
  const { response, target } = sent;
  const headers = downstreamResponseHeaders(response.headers);
  for (const name in extra) headers[name] = extra[name]!;
  if (rewrite) return relayRewritten(sent, headers, extra, onEnd, rewrite, filter);
  const init = { status: response.status, statusText: response.statusText, headers };
  if (!response.body) {
    onEnd("complete", 0, null);
    return new Response(null, init);
  }
  const eventStream = isEventStream(headers);
  const failures = bodyFailures(target);
  // An error is read whole to be cleaned of the key the backend was sent; not an event stream (it
  // may flow for longer than one idle timeout), nor one that announces more than a body is read
  // whole at (no error message is that long): those pass as they come.
  const length = declaredLength(response.headers);
  const secret = response.status >= 400 && !eventStream && (length ?? 0) <= MAX_BUFFERED_BYTES ? secretOf(target.apiKey) : null;
  if (secret || (!eventStream && (length ?? Infinity) <= MAX_BUFFERED_BYTES)) {
    // Nothing reached the client yet: a failure here is the caller's to judge (a retry, or its error).
    let body: ArrayBuffer | Uint8Array = await readWhole(sent, false, failures);
    const cleaned = secret ? withoutSecret(new Uint8Array(body), headers["content-encoding"] ?? null, secret) : null;
    if (cleaned) {
      body = cleaned;
      delete headers["content-encoding"];
    }
    onEnd("complete", body.byteLength, body);
    return new Response(body, init);
  }
  const relayed = relayBody(response.body, {
    idleMs: target.timeouts.idleMs,
    eventStream,
    ...failures,
    onEnd,
    filter: eventStream ? filter : undefined,
    keepUpTo: !eventStream && reading.keepWhole ? MAX_BUFFERED_BYTES : 0,
  });
  return new Response(relayed, init);
}

const encoder = new TextEncoder();

/** `relay` for an answer `rewrite` translates: the bytes the client gets are the rewritten ones. */
async function relayRewritten(
  sent: Sent,
  headers: HeaderRecord,
  extra: HeaderRecord,
  onEnd: RelayEnd,
  rewrite: AnswerRewrite,
  filter: ChunkFilter | undefined,
): Promise<Response> {
  const { response, target } = sent;
  const status = rewrite.status(response.status);
  // fetch decoded the body (it was asked to): these described the backend's bytes, not these.
  delete headers["content-encoding"];
  const failures = bodyFailures(target);
  if (response.ok && response.body && isEventStream(headers)) {
    const relayed = relayBody(response.body, {
      idleMs: target.timeouts.idleMs,
      eventStream: true,
      ...failures,
      onEnd: (end, bytes) => onEnd(end, bytes, null),
      filter,
    });
    return new Response(relayed, { status, headers });
  }
  // Nothing reached the client yet: a failure to read or translate is the caller's to judge (a retry, or its error).
  const body = response.body ? await readWhole(sent, true, failures) : new ArrayBuffer(0);
  const out = rewrite.whole(response.status, body);
  headers["content-type"] = "application/json";
  if (typeof out !== "string") {
    // The error's own headers (a retry-after the backend put in its body), then ours again.
    Object.assign(headers, out.headers, extra);
  }
  let bytes = encoder.encode(typeof out === "string" ? out : JSON.stringify(out.toJSON()));
  const secret = response.status >= 400 ? secretOf(target.apiKey) : null;
  if (secret) bytes = withoutSecret(bytes, null, secret) ?? bytes;
  onEnd("complete", bytes.byteLength, bytes.buffer);
  return new Response(bytes, { status, headers });
}

/**
 * Bodies that announce a small length (a non-streamed completion, an embedding) are read whole
 * before answering: Bun copies them natively, far cheaper than relaying chunk by chunk in
 * JavaScript, and a backend that stalls mid-body still gets a proper 504 since nothing was sent.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** How an answer's body can fail, as the client hears it: silent too long, cut, or unreadable to the relay's filter. */
type BodyFailures = Pick<RelayOptions, "idleError" | "lostError" | "unreadableError">;

function bodyFailures(target: Target): BodyFailures {
  const { modelId, timeouts } = target;
  return {
    idleError: () => gatewayTimeout(modelId, `no data for ${timeouts.idleMs} ms`),
    lostError: () => badGateway(modelId, "connection lost mid-response"),
    unreadableError: () => badGateway(modelId, "its stream could not be read"),
  };
}

/**
 * An answer read whole without a length that bounds it (an error body to clean of the key, sent in
 * chunks; one fetch decoded; one to translate) is refused past this, not held: no answer a client
 * waits for whole is that large, and a backend that sends one without end must not fill the memory.
 */
const MAX_WHOLE_BYTES = 64 * 1024 * 1024;

/** The body of `sent`, whole, within one idle timeout; `decoded` when fetch undoes its content coding. */
async function readWhole(sent: Sent, decoded: boolean, { idleError, lostError }: BodyFailures): Promise<ArrayBuffer | Uint8Array> {
  const { response, abort, target } = sent;
  const timer = setTimeout(() => abort.abort(idleError()), target.timeouts.idleMs);
  try {
    const length = declaredLength(response.headers);
    // The length bounds the bytes read unless fetch decodes them (a small compressed body can expand without bound).
    if (length !== null && length <= MAX_WHOLE_BYTES && !(decoded && response.headers.has("content-encoding"))) return await response.arrayBuffer();
    return await readUpTo(response.body!, MAX_WHOLE_BYTES, () => {
      const error = badGateway(target.modelId, `its answer is larger than ${MAX_WHOLE_BYTES} bytes`);
      abort.abort(error);
      return error;
    });
  } catch {
    throw abort.signal.reason instanceof ProxyError ? abort.signal.reason : lostError();
  } finally {
    clearTimeout(timer);
  }
}
