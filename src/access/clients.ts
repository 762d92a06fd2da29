import { ProxyError } from "../errors";
import { bearerToken, digest, findDigest } from "./secret";

/** One configured client key, resolved: its digest and the models it may use (null: all). */
export interface ClientKey {
  readonly name: string;
  readonly digest: Uint8Array;
  readonly models: ReadonlySet<string> | null;
  /** The `/models` body this client sees, rendered at config load. */
  readonly modelsJson: string;
  /** Model ids this client may know of, for error messages. */
  readonly visibleIds: readonly string[];
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
 * The client key a request presents, or null when the proxy is open. A missing or unknown key
 * is a 401; the message never echoes what was sent.
 */
export function authenticateClient(clients: ClientKeys, headers: Headers): ClientKey | null {
  if (clients.keys.length === 0) return null;
  const token = bearerToken(headers);
  if (token === null) throw unauthorized("Missing API key: send 'Authorization: Bearer <key>'");
  const index = findDigest(digest(token), clients.digests);
  if (index === -1) throw unauthorized("Incorrect API key provided");
  return clients.keys[index]!;
}

