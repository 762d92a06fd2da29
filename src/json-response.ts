const JSON_HEADERS = { "content-type": "application/json" } as const;

/** Every JSON body the proxy writes itself (pre-rendered lists, reports, errors) leaves through here. */
export function jsonResponse(json: string, status = 200, headers?: Record<string, string>): Response {
  return new Response(json, { status, headers: headers ? { ...headers, ...JSON_HEADERS } : JSON_HEADERS });
}
