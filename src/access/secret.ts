import { timingSafeEqual } from "node:crypto";

/** SHA-256 of a secret: compared instead of the secret so every comparison has the same length. */
export function digest(secret: string): Uint8Array {
  return new Bun.CryptoHasher("sha256").update(secret).digest();
}

/**
 * The index of the first digest in `candidates` equal to `presented`, or -1. Every candidate is
 * compared in constant time and none is skipped, so timing tells nothing about which key is close.
 */
export function findDigest(presented: Uint8Array, candidates: readonly Uint8Array[]): number {
  let found = -1;
  for (let i = 0; i < candidates.length; i++) {
    if (timingSafeEqual(presented, candidates[i]!) && found === -1) found = i;
  }
  return found;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(headers: Headers): string | null {
  const value = headers.get("authorization");
  if (!value || value.length < 7 || value.slice(0, 7).toLowerCase() !== "bearer ") return null;
  const token = value.slice(7).trim();
  return token || null;
}

/** The bare-key headers of other SDK families: Azure OpenAI (`api-key`), Anthropic-style (`x-api-key`). */
const KEY_HEADERS = ["api-key", "x-api-key"] as const;

/**
 * Every key a request presents: the `Authorization: Bearer` token, then the `api-key` and
 * `x-api-key` values. Empty values are not keys.
 */
export function presentedKeys(headers: Headers): string[] {
  const keys: string[] = [];
  const bearer = bearerToken(headers);
  if (bearer !== null) keys.push(bearer);
  for (const name of KEY_HEADERS) {
    const value = headers.get(name)?.trim();
    if (value) keys.push(value);
  }
  return keys;
}
