import { Elysia } from "elysia";
import { authenticateClient, type IssuedKeyLookup } from "../access/clients";
import type { LiveCatalog } from "../catalog/live-catalog";
import type { Observability } from "../observe/observability";
import type { RequestRecord, UserInfo } from "../observe/record";

/** Open WebUI's user headers (the name is URL-quoted), or null when it sent none. */
function userOf(headers: Headers): UserInfo | null {
  const id = headers.get("x-openwebui-user-id");
  const email = headers.get("x-openwebui-user-email");
  const quoted = headers.get("x-openwebui-user-name");
  if (id === null && email === null && quoted === null) return null;
  let name = quoted;
  try {
    if (quoted !== null) name = decodeURIComponent(quoted);
  } catch {}
  return { id, email, name };
}

/**
 * Gives each request of the routes that use it the catalog snapshot it runs on, with the config
 * it was built from (captured once, so a reload mid-request never mixes two configs), the client
 * key it presented, from the config or issued at runtime (401 when keys exist and it presented
 * none or a wrong one; null when the proxy is open) and its record, which learns the key's name and Open WebUI's user.
 * Unnamed on purpose: Elysia deduplicates named plugins, and every route family needs its own.
 */
export const clientAccess = (catalogs: LiveCatalog, observe: Observability, issued: IssuedKeyLookup | null = null) =>
  new Elysia().derive({ as: "scoped" }, ({ request }) => {
    const catalog = catalogs.current;
    const config = catalog.config;
    const record = observe.of(request) as RequestRecord;
    const client = authenticateClient(config.clients, request.headers, issued);
    record.clientName = client?.name ?? null;
    record.clientKeyId = client?.id ?? null;
    if (config.usage.recordUsers) record.user = userOf(request.headers);
    // Per-user limits follow Open WebUI's user, whether or not usage rows name it.
    const limitUser = request.headers.get("x-openwebui-user-id") ?? request.headers.get("x-openwebui-user-email");
    return { catalog, config, client, record, limitUser };
  });
