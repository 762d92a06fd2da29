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

/** Plain header records: Bun's native `Headers.toJSON()` copy is far cheaper than iterating a Headers. */
export type HeaderRecord = Record<string, string>;

/** Names listed in a `Connection` header are hop-by-hop for this message too (RFC 9110 §7.6.1). */
function connectionListed(headers: HeaderRecord): Set<string> | null {
  const listed = headers.connection;
  if (!listed) return null;
  return new Set(listed.split(",").map((name) => name.trim().toLowerCase()));
}

export function upstreamRequestHeaders(incoming: Headers, authorization: string | null, forwardUserInfo: boolean): HeaderRecord {
  const source = incoming.toJSON();
  const listed = connectionListed(source);
  const outgoing: HeaderRecord = {};
  for (const name in source) {
    if (NOT_FORWARDED_UPSTREAM.has(name) || listed?.has(name)) continue;
    if (!forwardUserInfo && name.startsWith(USER_INFO_PREFIX)) continue;
    outgoing[name] = source[name]!;
  }
  if (authorization) outgoing.authorization = authorization;
  // Bodies are relayed without decoding, so the backend may only compress the way the client accepts.
  outgoing["accept-encoding"] ??= "identity";
  return outgoing;
}

export function downstreamResponseHeaders(upstream: Headers): HeaderRecord {
  const source = upstream.toJSON() as HeaderRecord; // set-cookie, the one array-valued header, is dropped below
  const listed = connectionListed(source);
  const outgoing: HeaderRecord = {};
  for (const name in source) {
    if (NOT_FORWARDED_DOWNSTREAM.has(name) || listed?.has(name) || name.startsWith(CORS_PREFIX)) continue;
    outgoing[name] = source[name]!;
  }
  if (isEventStream(outgoing)) {
    outgoing["cache-control"] = "no-cache";
    outgoing["x-accel-buffering"] = "no";
  }
  return outgoing;
}

export function isEventStream(headers: HeaderRecord): boolean {
  return headers["content-type"]?.includes("text/event-stream") ?? false;
}
