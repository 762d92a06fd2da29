import { ProxyError } from "../model/errors";
import { bearerToken, digest, findDigest } from "./secret";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

const isLoopback = (address: string | undefined) => address !== undefined && LOOPBACK.test(address);

/**
 * Admin routes (`/debug`, `/reload`) need the admin key when one is configured; without one they
 * answer loopback clients only, so a proxy bound to 0.0.0.0 never exposes them by default.
 */
export function authorizeAdmin(adminDigest: Uint8Array | null, headers: Headers, clientAddress: string | undefined): void {
  if (adminDigest === null) {
    if (isLoopback(clientAddress)) return;
    throw new ProxyError(403, "Admin routes answer only local clients unless an admin key is configured", "permission_error", "admin_local_only");
  }
  const token = bearerToken(headers);
  if (token === null || findDigest(digest(token), [adminDigest]) === -1) {
    throw new ProxyError(401, "This route needs the admin key: send 'Authorization: Bearer <adminKey>'", "authentication_error", "invalid_admin_key");
  }
}
