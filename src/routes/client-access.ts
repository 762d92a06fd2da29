import { Elysia } from "elysia";
import { authenticateClient } from "../access/clients";
import type { CatalogStore } from "../catalog/store";

/**
 * Gives each request of the routes that use it the catalog snapshot it runs on, with the config
 * it was built from (captured once, so a reload mid-request never mixes two configs), and the
 * client key it presented (401 when keys are configured and it presented none or a wrong one;
 * null when the proxy is open).
 * Unnamed on purpose: Elysia deduplicates named plugins, and every route family needs its own.
 */
export const clientAccess = (catalogs: CatalogStore) =>
  new Elysia().derive({ as: "scoped" }, ({ request }) => {
    const catalog = catalogs.current;
    const config = catalog.config;
    return { catalog, config, client: authenticateClient(config.clients, request.headers) };
  });
