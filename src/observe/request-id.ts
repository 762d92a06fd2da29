/** A client's id is kept when it is a sane token: short, and nothing a log line could be forged with. */
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the client's `X-Request-Id` when sane, otherwise a new one. */
export function requestIdFor(headers: Headers): string {
  const offered = headers.get("x-request-id");
  return offered !== null && SANE_ID.test(offered) ? offered : Bun.randomUUIDv7();
}
