import { badGateway, gatewayTimeout, payloadTooLarge, ProxyError } from "../errors";
import type { Target } from "../config/proxy-config";
import { limitStream } from "./body-limit";
import { canConnect } from "./connect-probe";
import { downstreamResponseHeaders, isEventStream } from "./headers";
import { relayBody } from "./relay";

export interface UpstreamRequest {
  readonly target: Target;
  /** Path below `<url>/v1/`, without a leading slash, with the query string if any. */
  readonly path: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: RequestInit["body"];
  /** Bound for a streamed body, whose length is known only as it is read. */
  readonly maxBodyBytes: number;
  /** Aborts when the client goes away; the backend request is aborted with it. */
  readonly clientSignal: AbortSignal;
}

/** The client left before the answer; nobody reads this response, it only ends the handler. */
export const clientClosed = () => new ProxyError(499, "Client closed the request", "invalid_request_error", "client_closed");

function failureReason(error: unknown): string {
  // Bun's fetch errors carry a short code (ConnectionRefused, ECONNRESET, …); their message and
  // `path` may hold the full backend URL, which can carry credentials, so only the code is shown.
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && code ? code : "connection failed";
}

/**
 * Sends one request to the target's backend and returns the response to relay: the backend's
 * status and cleaned headers, its body streamed through untouched. Failures before the response
 * headers arrive become 502/504 ProxyErrors; silence or a break during the body ends it (see relayBody).
 */
export async function forward(request: UpstreamRequest): Promise<Response> {
  const { target, clientSignal } = request;
  const { connectMs, firstByteMs, idleMs } = target.timeouts;
  const url = target.prefix + request.path;
  const abort = new AbortController();
  const onClientGone = () => abort.abort(clientClosed());
  if (clientSignal.aborted) throw clientClosed();
  clientSignal.addEventListener("abort", onClientGone, { once: true });

  const firstByteTimer = setTimeout(
    () => abort.abort(gatewayTimeout(target.id, `no response within ${firstByteMs} ms`)),
    firstByteMs,
  );
  const connectTimer = connectMs < firstByteMs
    ? setTimeout(async () => {
        if (!(await canConnect(url, connectMs)) && !abort.signal.aborted) {
          abort.abort(gatewayTimeout(target.id, `could not connect within ${connectMs} ms`));
        }
      }, connectMs)
    : undefined;

  const body = request.body instanceof ReadableStream
    ? limitStream(request.body, request.maxBodyBytes, () => abort.abort(payloadTooLarge(request.maxBodyBytes)))
    : request.body;

  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body,
      signal: abort.signal,
      redirect: "manual",
      decompress: false,
      timeout: false, // our own timers govern; Bun's default would cut a long first-byte wait
    });
  } catch (error) {
    clientSignal.removeEventListener("abort", onClientGone);
    if (abort.signal.reason instanceof ProxyError) throw abort.signal.reason;
    throw badGateway(target.id, failureReason(error));
  } finally {
    clearTimeout(firstByteTimer);
    clearTimeout(connectTimer);
  }

  const headers = downstreamResponseHeaders(response.headers);
  const relayed = response.body
    ? relayBody(response.body, {
        idleMs,
        eventStream: isEventStream(headers),
        idleError: () => gatewayTimeout(target.id, `no data for ${idleMs} ms`),
        lostError: () => badGateway(target.id, "connection lost mid-response"),
      })
    : null;
  return new Response(relayed, { status: response.status, statusText: response.statusText, headers });
}
