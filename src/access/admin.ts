import { ProxyError } from "../model/errors";
import { bearerToken, digest, findDigest } from "./secret";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

const isLoopback = (address: string | undefined) => address !== undefined && LOOPBACK.test(address);

/** A host name this machine only answers to itself: what a request to a loopback address names. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/**
 * Whether a loopback client may be trusted as the machine's own administrator. A browser on this
 * machine is a loopback client whatever page it shows, so another site's script could otherwise use
 * the admin routes of a proxy without an admin key:
 * - the request must name a loopback host (a page whose name was made to resolve to 127.0.0.1,
 *   DNS rebinding, is same-origin to the browser but names its own host);
 * - browsers say in `Sec-Fetch-Site` where the page came from: only `same-origin` and `none` (an
 *   address typed in) pass (`localhost:3000` and `localhost:3333` are the same site); older
 *   browsers say it in an `Origin` that must name the host asked.
 */
function trustedLocally(headers: Headers): boolean {
  const host = headers.get("host");
  if (host !== null && !LOOPBACK_HOST.test(host)) return false;
  const site = headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin" || site === "none";
  const origin = headers.get("origin");
  return origin === null || URL.parse(origin)?.host === host;
}

/**
 * Admin routes (`/debug`, `/reload`) need the admin key when one is configured; without one they
 * answer loopback clients only, so a proxy bound to 0.0.0.0 never exposes them by default, and
 * never a page of another origin in a browser on this machine (`trustedLocally`).
 */
export function authorizeAdmin(adminDigest: Uint8Array | null, headers: Headers, clientAddress: string | undefined): void {
  if (adminDigest === null) {
    if (isLoopback(clientAddress) && trustedLocally(headers)) return;
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
