import { Elysia, t } from "elysia";
import type { ClientKey } from "../access/clients";
import type { ProxyConfig } from "../config/proxy-config";
import { targetFor } from "../upstream/target";
import { clientAccess } from "./client-access";
import { jsonResponse, type RouteContext } from "./context";

const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: t.Integer(),
  owned_by: t.String(),
  name: t.String({ description: "The display name Open WebUI shows" }),
});

const oneModel = (config: ProxyConfig, client: ClientKey | null, id: string) =>
  jsonResponse(config.modelJson.get(targetFor(config, id, client).id)!);

/** `GET /models` and `GET /models/{id}`, answered from JSON rendered when the config was loaded. */
export const modelRoutes = ({ store }: RouteContext, prefix: string) =>
  new Elysia({ name: "models", seed: prefix, prefix })
    .use(clientAccess(store))
    .get("/models", ({ config, client }) => jsonResponse(client?.modelsJson ?? config.modelsJson), {
      response: t.Object({ object: t.Literal("list"), data: t.Array(Model) }),
      detail: { summary: "List the models this client may use", tags: ["Models"], hide: prefix === "" },
    })
    .get("/models/:id", ({ params, config, client }) => oneModel(config, client, params.id), {
      params: t.Object({ id: t.String() }),
      response: Model,
      detail: { summary: "Retrieve one configured model", tags: ["Models"], hide: prefix === "" },
    })
    // Model ids may contain "/" (e.g. "meta-llama/Llama-3"), which one path segment cannot hold.
    .get("/models/*", ({ params, config, client }) => oneModel(config, client, params["*"]), { detail: { hide: true } });
