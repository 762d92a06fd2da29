/**
 * Header hygiene in both directions. Hop-by-hop headers never cross the proxy; the client's
 * credentials never reach a backend; Open WebUI's personal-data headers stay behind unless the
 * operator opts in.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers the proxy sets itself or must not forward. */
const NOT_FORWARDED_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  "authorization",
  "cookie",
  "host",
  "content-length",
  "x-model-id",
]);

/** Response headers that no longer describe the body once it is re-sent by the proxy. */
const NOT_FORWARDED_DOWNSTREAM = new Set([...HOP_BY_HOP, "content-length", "set-cookie"]);

/** The proxy answers CORS for its own origin; a backend's CORS headers would contradict it. */
const CORS_PREFIX = "access-control-";

const USER_INFO_PREFIX = "x-openwebui-";

/** Names listed in a `Connection` header are hop-by-hop for this message too (RFC 9110 §7.6.1). */
function connectionListed(headers: Headers): Set<string> | null {
  const listed = headers.get("connection");
  if (!listed) return null;
  return new Set(listed.split(",").map((name) => name.trim().toLowerCase()));
}

export function upstreamRequestHeaders(incoming: Headers, authorization: string | null, forwardUserInfo: boolean): Headers {
  const listed = connectionListed(incoming);
  const outgoing = new Headers();
  for (const [name, value] of incoming) {
    if (NOT_FORWARDED_UPSTREAM.has(name) || listed?.has(name)) continue;
    if (!forwardUserInfo && name.startsWith(USER_INFO_PREFIX)) continue;
    outgoing.set(name, value);
  }
  if (authorization) outgoing.set("authorization", authorization);
  // Bodies are relayed without decoding, so the backend may only compress the way the client accepts.
  if (!outgoing.has("accept-encoding")) outgoing.set("accept-encoding", "identity");
  return outgoing;
}

export function downstreamResponseHeaders(upstream: Headers): Headers {
  const listed = connectionListed(upstream);
  const outgoing = new Headers();
  for (const [name, value] of upstream) {
    if (NOT_FORWARDED_DOWNSTREAM.has(name) || listed?.has(name) || name.startsWith(CORS_PREFIX)) continue;
    outgoing.append(name, value);
  }
  if (isEventStream(outgoing)) {
    outgoing.set("cache-control", "no-cache");
    outgoing.set("x-accel-buffering", "no");
  }
  return outgoing;
}

export function isEventStream(headers: Headers): boolean {
  return headers.get("content-type")?.includes("text/event-stream") ?? false;
}
