/**
 * The prefix every upstream path is appended to: `<url>/v1/`. A configured url with a trailing
 * slash, or one that already ends in `/v1`, yields the same prefix (no `//`, no `/v1/v1`).
 */
export function upstreamPrefix(url: string): string {
  let base = url.trim();
  while (base.endsWith("/")) base = base.slice(0, -1);
  if (base.endsWith("/v1")) base = base.slice(0, -3);
  return `${base}/v1/`;
}
