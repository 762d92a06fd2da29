import type { IdMatcher } from "../model/glob";
import { ProxyError } from "../model/errors";
import type { LimitSet } from "../model/limits";
import { digest, findDigest, presentedKeys } from "./secret";

/** One client key, resolved: its digest and the models it may use (null: all). */
export interface ClientKey {
  /** A key issued at runtime has an id (usage rows carry it as `key_id`, limits count by it); a config-file key has none. */
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

/**
 * The keys issued at runtime (src/keys), looked up by digest without waiting on any store.
 * `required`: some key was issued (or the issued keys are not loaded yet), so the proxy wants a key
 * even when the config has none.
 */
export interface IssuedKeyLookup {
  readonly required: boolean;
  /** The issued key whose secret has this digest, or null; throws a 401 for one that is blocked, expired or revoked. */
  find(digest: Uint8Array, now: number): ClientKey | null;
}

const unauthorized = (message: string) => new ProxyError(401, message, "authentication_error", "invalid_api_key");

export const forbiddenModel = (model: string) =>
  new ProxyError(403, `This API key may not use the model '${model}'`, "permission_error", "model_not_allowed", "model");

/**
 * The client key a request presents, or null when the proxy is open. The key may come in
 * `Authorization: Bearer`, `api-key` or `x-api-key`, so OpenAI, Azure OpenAI and Anthropic-style
 * SDKs all work; when several are sent, any one that matches will do, and every one is checked
 * against the config's keys so timing does not tell which matched. Keys issued at runtime are
 * looked up by their digest. A missing or unknown key is a 401; the message never echoes what was sent.
 */
export function authenticateClient(clients: ClientKeys, headers: Headers, issued: IssuedKeyLookup | null = null): ClientKey | null {
  if (clients.keys.length === 0 && !issued?.required) return null;
  const presented = presentedKeys(headers);
  if (presented.length === 0) {
    throw unauthorized("Missing API key: send it as 'Authorization: Bearer <key>', 'api-key: <key>' or 'x-api-key: <key>'");
  }
  let index = -1;
  let found: ClientKey | null = null;
  let refusal: unknown = null;
  for (const key of presented) {
    const keyDigest = digest(key);
    const at = findDigest(keyDigest, clients.digests);
    if (index === -1) index = at;
    if (at !== -1 || found !== null || issued === null) continue;
    try {
      found = issued.find(keyDigest, Date.now());
    } catch (error) {
      refusal ??= error;
    }
  }
  if (index !== -1) return clients.keys[index]!;
  if (found !== null) return found;
  if (refusal !== null) throw refusal;
  throw unauthorized("Incorrect API key provided in 'Authorization: Bearer', 'api-key' or 'x-api-key'");
}
