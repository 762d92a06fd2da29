// Header hygiene in both directions. Hop-by-hop headers never cross the proxy; the client's
// credentials never reach a backend; Open WebUI's personal-data headers stay behind unless the
// operator opts in, and its signed user token always does.

import type { UserInfoForwarding } from "../access/openwebui-headers";
import { USER_JWT_HEADER } from "../access/openwebui-jwt";

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

/**
 * Where clients of each SDK family put their credentials: OpenAI (`authorization`), Azure OpenAI
 * (`api-key`), Anthropic-style (`x-api-key`), Google (`x-goog-api-key`), browsers (`cookie`),
 * HTTP proxies (`proxy-authorization`). None of them may reach a backend, which gets its own key.
 */
const CLIENT_CREDENTIALS = ["authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"];

/**
 * Request headers the proxy sets itself or must not forward. Open WebUI's user token is one: a
 * backend holding it could replay it, within its lifetime, to any service that trusts the same secret.
 */
const NOT_FORWARDED_UPSTREAM = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS, USER_JWT_HEADER, "host", "content-length", "x-model-id"]);

/**
 * Headers the proxy itself sets or relies on: a `Connection` list naming them is ignored, so
 * neither side can strip the body's type, and a client cannot strip the backend's key.
 */
const PROXY_OWNED = new Set(["content-type", "content-length", "authorization", "host", "accept-encoding"]);

/**
 * Response headers that no longer describe the body once it is re-sent by the proxy, and those
 * that name the backend's own address (a redirect's `Location`, e.g. a trailing-slash redirect,
 * would send the client around the proxy and tell it where the backend lives).
 */
const NOT_FORWARDED_DOWNSTREAM = new Set([...HOP_BY_HOP, "content-length", "set-cookie", "location", "content-location"]);

/** The proxy answers CORS for its own origin; a backend's CORS headers would contradict it. */
const CORS_PREFIX = "access-control-";

/** Plain header records: Bun's native `Headers.toJSON()` copy is far cheaper than iterating a Headers. */
export type HeaderRecord = Record<string, string>;

/**
 * Names listed in a `Connection` header are hop-by-hop for this message too (RFC 9110 §7.6.1),
 * except the ones the proxy owns.
 */
function connectionListed(headers: HeaderRecord): Set<string> | null {
  const listed = headers.connection;
  if (!listed) return null;
  const names = new Set<string>();
  for (const name of listed.split(",")) {
    const lower = name.trim().toLowerCase();
    if (!PROXY_OWNED.has(lower)) names.add(lower);
  }
  return names;
}

export function upstreamRequestHeaders(incoming: Headers, authorization: string | null, forwardUserInfo: UserInfoForwarding): HeaderRecord {
  const source = incoming.toJSON();
  const listed = connectionListed(source);
  const outgoing: HeaderRecord = {};
  const { withheldPrefix, withheld } = forwardUserInfo;
  const renamed = withheld.size > 0;
  for (const name in source) {
    if (NOT_FORWARDED_UPSTREAM.has(name) || listed?.has(name)) continue;
    if ((withheldPrefix !== null && name.startsWith(withheldPrefix)) || (renamed && withheld.has(name))) continue;
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
