import { Elysia } from "elysia";
import { authenticateClient, type IssuedKeyLookup } from "../access/clients";
import type { OpenWebUIHeaderNames } from "../access/openwebui-headers";
import { USER_JWT_HEADER } from "../access/openwebui-jwt";
import type { LiveCatalog } from "../catalog/live-catalog";
import type { OpenWebUISettings } from "../config/proxy-config";
import { ProxyError } from "../model/errors";
import type { Observability } from "../observe/observability";
import type { RequestRecord, UserInfo } from "../observe/record";

/** Open WebUI's plain user headers, under the names it sends them as (the name is URL-quoted), or null when it sent none. */
function userOfHeaders(headers: Headers, names: OpenWebUIHeaderNames): UserInfo | null {
  const id = headers.get(names.id);
  const email = headers.get(names.email);
  const quoted = headers.get(names.name);
  if (id === null && email === null && quoted === null) return null;
  let name = quoted;
  try {
    if (quoted !== null) name = decodeURIComponent(quoted);
  } catch {}
  return { id, email, name };
}

/**
 * Open WebUI's user: with `openWebUI.userJwtSecret`, only the one its signed token names (plain
 * headers are then ignored, since anyone holding a client key can send them); else the plain headers.
 * A request that must name a user (`openWebUI.requireUser`) and does not is a 401.
 */
function userOf(headers: Headers, openWebUI: OpenWebUISettings, mayRequire: boolean): UserInfo | null {
  if (openWebUI.userToken === null) return userOfHeaders(headers, openWebUI.headers);
  const token = headers.get(USER_JWT_HEADER);
  const user = token === null ? null : openWebUI.userToken.verify(token);
  if (user === null && openWebUI.requireUser && mayRequire) {
    const problem = token === null ? "is missing" : "is not valid (wrong secret, expired, or not Open WebUI's)";
    throw new ProxyError(
      401,
      `This proxy needs Open WebUI's signed user: the X-OpenWebUI-User-Jwt header ${problem}`,
      "authentication_error",
      "invalid_user_token",
    );
  }
  return user;
}

/**
 * Gives each request of the routes that use it the catalog snapshot it runs on, with the config
 * it was built from (captured once, so a reload mid-request never mixes two configs), the client
 * key it presented, from the config or issued at runtime (401 when keys exist and it presented
 * none or a wrong one; null when the proxy is open) and its record, which learns the key's name and
 * Open WebUI's user. Only model requests may need a user: Open WebUI lists models without one, and
 * a key's own view (`/me`) is the key's, not a user's. Unnamed on purpose: Elysia deduplicates named plugins, and every route family needs its own.
 */
export const clientAccess = (
  catalogs: LiveCatalog,
  observe: Observability,
  issued: IssuedKeyLookup | null,
  serves: "model requests" | "key only" = "model requests",
) =>
  new Elysia().derive({ as: "scoped" }, ({ request }) => {
    const catalog = catalogs.current;
    const config = catalog.config;
    const record = observe.of(request) as RequestRecord;
    const client = authenticateClient(config.clients, request.headers, issued);
    record.clientName = client?.name ?? null;
    const user = userOf(request.headers, config.openWebUI, serves === "model requests");
    if (config.usage.recordUsers) record.user = user;
    record.clientKeyId = client?.id ?? null;
    // Per-user limits follow Open WebUI's user, whether or not usage rows name it.
    const limitUser = user?.id ?? user?.email ?? null;
    return { catalog, config, client, record, limitUser };
  });

/**
 * The client-key check alone, for a route's body parser: it runs before the route's access (which
 * Elysia derives after parsing), so a body refused for its shape or size is refused with the 401 a
 * wrong or missing key earns instead.
 */
export const keyVetting =
  (catalogs: LiveCatalog, issued: IssuedKeyLookup | null) =>
  (request: Request): void => {
    authenticateClient(catalogs.current.config.clients, request.headers, issued);
  };
