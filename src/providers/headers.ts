// Request headers for a backend in the client's own wire format, whose answer is relayed as it
// comes, and for one whose body the proxy wrote itself (a translation).
import { upstreamRequestHeaders, type HeaderRecord } from "../upstream/headers";
import type { ClientCall } from "./provider";

/**
 * The client's headers as for any backend (its credentials never pass), then the backend's own key
 * headers, a JSON body, and no compression: the answer is read and rewritten, not relayed as is.
 */
export function translatedRequestHeaders(call: ClientCall, auth: HeaderRecord): HeaderRecord {
  const headers = upstreamRequestHeaders(call.headers, null, call.forwardUserInfo);
  Object.assign(headers, auth);
  headers["content-type"] = "application/json";
  headers["accept-encoding"] = "identity";
  headers["x-request-id"] = call.requestId;
  return headers;
}

/**
 * The client's headers for a backend whose answer is relayed as it comes, with its `authorization`
 * (null: the adapter sets its own key header). An event stream is read as it passes (its usage, the
 * usage chunk the proxy asked for and takes out), so a streamed call asks for it uncompressed; any
 * other answer may come compressed the way the client accepts.
 */
export function relayedRequestHeaders(call: ClientCall, authorization: string | null): HeaderRecord {
  const headers = upstreamRequestHeaders(call.headers, authorization, call.forwardUserInfo);
  headers["x-request-id"] = call.requestId;
  // A chat body is read as JSON whatever the client labelled it (`curl -d`, a browser's text/plain) and sent as JSON.
  if (call.kind === "chat") headers["content-type"] = "application/json";
  if ((call.kind === "chat" ? call.body : call.json)?.stream === true) headers["accept-encoding"] = "identity";
  return headers;
}
