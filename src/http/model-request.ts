import type { ClientKey } from "../access/clients";
import type { Catalog } from "../catalog/catalog";
import type { ProxyConfig } from "../config/proxy-config";
import type { Model } from "../model/model";
import type { RequestRecord } from "../observe/record";
import type { ClientCall, MessagesCall } from "../providers/provider";
import type { ModelRequest } from "../proxy/dispatch";

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
  const model = catalog.find(named, client);
  // A refusal of a model that exists is counted under that model.
  record.modelLabel = model.id;
  catalog.checkAllowed(model, named as string, client);
  return model;
}

/** What a route knows of a request a client posted as JSON (chat, messages), from clientAccess. */
export interface PostedRequest {
  readonly request: Request;
  readonly catalog: Catalog;
  readonly config: ProxyConfig;
  readonly client: ClientKey | null;
  readonly record: RequestRecord;
  readonly limitUser: string | null;
}

/**
 * The dispatcher's request for a JSON body posted to `model`: parsed already, so replayable. An
 * `answer` (a chat completion, a message) reports usage and counts against the limits; a `token
 * count` does neither.
 */
export function postedModelRequest(posted: PostedRequest, model: Model, call: ClientCall | MessagesCall, asks: "answer" | "token count"): ModelRequest {
  return {
    model,
    catalog: posted.catalog,
    method: "POST",
    call,
    replayable: true,
    maxBodyBytes: posted.config.maxBodyBytes,
    clientSignal: posted.request.signal,
    record: posted.record,
    readsUsage: asks === "answer",
    limited: asks === "answer",
    client: posted.client,
    user: posted.limitUser,
  };
}
