import type { IdMatcher } from "../model/glob";
import { ProxyError } from "../model/errors";
import type { LimitSet } from "../model/limits";
import { digest, findDigest, presentedKeys } from "./secret";

/** One configured client key, resolved: its digest and the models it may use (null: all). */
export interface ClientKey {
  /** A key issued at runtime: its stable id (usage rows name it); none for a config-file key. */
  readonly id?: string;
  readonly name: string;
  readonly digest: Uint8Array;
  readonly models: IdMatcher | null;
  /** This key's own limits, each overriding the top-level `limits.perClient` field of the same name. */
  readonly limits?: LimitSet;
}

/** The configured client keys; an empty list means the proxy is open. */
export interface ClientKeys {
  readonly keys: readonly ClientKey[];
  readonly digests: readonly Uint8Array[];
}

const unauthorized = (message: string) => new ProxyError(401, message, "authentication_error", "invalid_api_key");

export const forbiddenModel = (model: string) =>
  new ProxyError(403, `This API key may not use the model '${model}'`, "permission_error", "model_not_allowed", "model");

/**
 * The client key a request presents, or null when the proxy is open. The key may come in
 * `Authorization: Bearer`, `api-key` or `x-api-key`, so OpenAI, Azure OpenAI and Anthropic-style
 * SDKs all work; when several are sent, any one that matches will do, and every one is checked so
 * timing does not tell which matched. A missing or unknown key is a 401; the message never echoes
 * what was sent.
 */
export function authenticateClient(clients: ClientKeys, headers: Headers): ClientKey | null {
  if (clients.keys.length === 0) return null;
  const presented = presentedKeys(headers);
  if (presented.length === 0) {
    throw unauthorized("Missing API key: send it as 'Authorization: Bearer <key>', 'api-key: <key>' or 'x-api-key: <key>'");
  }
  let index = -1;
  for (const key of presented) {
    const found = findDigest(digest(key), clients.digests);
    if (index === -1) index = found;
  }
  if (index === -1) throw unauthorized("Incorrect API key provided in 'Authorization: Bearer', 'api-key' or 'x-api-key'");
  return clients.keys[index]!;
}
