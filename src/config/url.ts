import type { ProviderKind } from "../model/model";

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

/** The URL of a provider's public API, for endpoints that leave `url` out. */
export const DEFAULT_URLS: Readonly<Partial<Record<ProviderKind, string>>> = {
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
};

const trimSlashes = (url: string) => url.trim().replace(/\/+$/, "");

/**
 * The prefix a target's upstream paths are appended to, for its provider: `<url>/v1/` (openai,
 * anthropic), `<url>/` (gemini, whose paths carry their own `v1beta/`), `<url>/openai/` (azure,
 * whose paths are `deployments/…` or `v1/…`). A url already ending in that part gives the same prefix.
 */
export function providerPrefix(provider: ProviderKind, url: string): string {
  switch (provider) {
    case "openai":
    case "anthropic":
      return upstreamPrefix(url);
    case "gemini":
      return `${trimSlashes(url).replace(/\/v1beta$/, "")}/`;
    case "azure":
      return `${trimSlashes(url)
        .replace(/\/openai\/v1$/, "")
        .replace(/\/openai$/, "")}/openai/`;
  }
}
