// Request headers for a backend whose body the proxy wrote itself (a translation).
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
