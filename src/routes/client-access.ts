import { Elysia } from "elysia";
import { authenticateClient } from "../access/clients";
import type { ConfigStore } from "../config/store";

/**
 * Gives each request of the routes that use it the config snapshot it runs on (captured once, so
 * a reload mid-request never mixes two configs) and the client key it presented (401 when keys
 * are configured and it presented none or a wrong one; null when the proxy is open).
 * Unnamed on purpose: Elysia deduplicates named plugins, and every route family needs its own.
 */
export const clientAccess = (store: ConfigStore) =>
  new Elysia().derive({ as: "scoped" }, ({ request }) => {
    const config = store.current;
    return { config, client: authenticateClient(config.clients, request.headers) };
  });
