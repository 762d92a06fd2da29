import { Elysia, t } from "elysia";
import type { ClientKey } from "../access/clients";
import type { Catalog } from "../catalog/catalog";
import { clientAccess } from "./client-access";
import { jsonResponse } from "../lib/json-response";
import type { RouteContext } from "./context";

const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: t.Integer(),
  owned_by: t.String(),
  name: t.String({ description: "The display name Open WebUI shows" }),
});

const oneModel = (catalog: Catalog, client: ClientKey | null, id: string) => jsonResponse(catalog.modelJson(catalog.resolve(id, client).id));

/** `GET /models` and `GET /models/{id}`, answered from JSON rendered when the catalog was built. */
export const modelRoutes = ({ catalogs, observe, keys }: RouteContext, prefix: string) =>
  new Elysia({ name: "models", seed: prefix, prefix })
    .use(clientAccess(catalogs, observe, keys, "key only"))
    .get("/models", ({ catalog, client }) => jsonResponse(catalog.modelsJson(client)), {
      response: t.Object({ object: t.Literal("list"), data: t.Array(Model) }),
      detail: { summary: "List the models this client may use", tags: ["Models"], hide: prefix === "" },
    })
    .get("/models/:id", ({ params, catalog, client }) => oneModel(catalog, client, params.id), {
      params: t.Object({ id: t.String() }),
      response: Model,
      detail: { summary: "Retrieve one configured model", tags: ["Models"], hide: prefix === "" },
    })
    // Model ids may contain "/" (e.g. "meta-llama/Llama-3"), which one path segment cannot hold.
    .get("/models/*", ({ params, catalog, client }) => oneModel(catalog, client, params["*"]), { detail: { hide: true } })
    // Where the AzureOpenAI client lists them (`/openai/models?api-version=…`): the same list.
    .get("/openai/models", ({ catalog, client }) => jsonResponse(catalog.modelsJson(client)), { detail: { hide: true } });
