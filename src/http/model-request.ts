import type { ClientKey } from "../access/clients";
import type { Catalog } from "../catalog/catalog";
import type { Model } from "../model/model";
import type { RequestRecord } from "../observe/record";

/** Paths whose answers report token usage, below `/v1/`. */
const USAGE_PATHS = new Set(["chat/completions", "completions", "embeddings", "responses"]);

export const reportsUsage = (path: string) => USAGE_PATHS.has(path);

/**
 * The model a request names, resolved for its client (or the 400/403/404 it gets), noted on the
 * request's record: a request that names a model counts as a model request even when the model is
 * unknown (its metrics label is then "unknown").
 */
export function resolveModel(catalog: Catalog, named: unknown, client: ClientKey | null, record: RequestRecord): Model {
  if (typeof named === "string" && named !== "") {
    record.modelRequested = named;
    record.modelLabel = "unknown";
  }
  const model = catalog.resolve(named, client);
  record.modelLabel = model.id;
  return model;
}
