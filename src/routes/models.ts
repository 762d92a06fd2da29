import { Elysia, t } from "elysia";
import { modelNotFound } from "../errors";
import { jsonResponse, type RouteContext } from "./context";

const Model = t.Object({
  id: t.String(),
  object: t.Literal("model"),
  created: t.Integer(),
  owned_by: t.String(),
  name: t.String({ description: "The display name Open WebUI shows" }),
});

/** `GET /models` and `GET /models/{id}`, answered from JSON rendered when the config was loaded. */
export function modelRoutes({ store }: RouteContext, prefix: string) {
  const oneModel = (id: string) => {
    const config = store.current;
    const json = config.modelJson.get(id);
    if (json === undefined) throw modelNotFound(id, config.modelIds);
    return jsonResponse(json);
  };
  return new Elysia({ name: "models", seed: prefix, prefix })
    .get("/models", () => jsonResponse(store.current.modelsJson), {
      response: t.Object({ object: t.Literal("list"), data: t.Array(Model) }),
      detail: { summary: "List the configured models", tags: ["Models"], hide: prefix === "" },
    })
    .get("/models/:id", ({ params }) => oneModel(params.id), {
      params: t.Object({ id: t.String() }),
      response: Model,
      detail: { summary: "Retrieve one configured model", tags: ["Models"], hide: prefix === "" },
    })
    // Model ids may contain "/" (e.g. "meta-llama/Llama-3"), which one path segment cannot hold.
    .get("/models/*", ({ params }) => oneModel(params["*"]), { detail: { hide: true } });
}
