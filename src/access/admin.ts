import { ProxyError } from "../model/errors";
import { bearerToken, digest, findDigest } from "./secret";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

const isLoopback = (address: string | undefined) => address !== undefined && LOOPBACK.test(address);

/**
 * Whether a browser sent the request for a page of another origin. A browser on this machine is a
 * loopback client whatever page it shows, so another site's script could otherwise use the admin
 * routes of a proxy without an admin key. Browsers say so in `Sec-Fetch-Site` (`localhost:3000` and
 * `localhost:3333` are the same site, so only `same-origin` and `none`, an address typed in, pass),
 * and older ones in an `Origin` that names another host than the one asked.
 */
function fromAnotherOrigin(headers: Headers): boolean {
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return true;
  const origin = headers.get("origin");
  if (origin === null) return false;
  return URL.parse(origin)?.host !== headers.get("host");
}

/**
 * Admin routes (`/debug`, `/reload`) need the admin key when one is configured; without one they
 * answer loopback clients only, so a proxy bound to 0.0.0.0 never exposes them by default, and
 * never a page of another origin in a browser on this machine.
 */
export function authorizeAdmin(adminDigest: Uint8Array | null, headers: Headers, clientAddress: string | undefined): void {
  if (adminDigest === null) {
    if (isLoopback(clientAddress) && !fromAnotherOrigin(headers)) return;
    throw new ProxyError(
      403,
      "Admin routes answer only local clients, and no web page of another origin, unless an admin key is configured",
      "permission_error",
      "admin_local_only",
    );
  }
  const token = bearerToken(headers);
  if (token === null || findDigest(digest(token), [adminDigest]) === -1) {
    throw new ProxyError(401, "This route needs the admin key: send 'Authorization: Bearer <adminKey>'", "authentication_error", "invalid_admin_key");
  }
}
