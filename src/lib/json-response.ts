const JSON_HEADERS = { "content-type": "application/json" } as const;

/** Where a response the proxy writes itself keeps its body's size (a Response does not tell it). */
const BODY_BYTES = Symbol("bodyBytes");
type Sized = Response & { [BODY_BYTES]?: number };

/** A response the proxy writes itself from a string: its size is kept for the access log's `bytesOut`. */
export function ownResponse(body: string, init: ResponseInit): Response {
  const response: Sized = new Response(body, init);
  response[BODY_BYTES] = Buffer.byteLength(body);
  return response;
}

/** The body size of a response made by `ownResponse`; null for any other (a file, a relayed body). */
export const ownBodyBytes = (response: Response): number | null => (response as Sized)[BODY_BYTES] ?? null;

/** Every JSON body the proxy writes itself (pre-rendered lists, reports, errors) leaves through here. */
export function jsonResponse(json: string, status = 200, headers?: Record<string, string>): Response {
  return ownResponse(json, { status, headers: headers ? { ...headers, ...JSON_HEADERS } : JSON_HEADERS });
}
