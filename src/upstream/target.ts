import { forbiddenModel, type ClientKey } from "../access/clients";
import { invalidRequest, modelNotFound } from "../errors";
import type { ProxyConfig, Target } from "../config/proxy-config";

/**
 * The configured target for a client-facing model id, or the error the client gets instead:
 * 400 without a model, 404 for an unknown one (listing only the models this client may see),
 * 403 for a model its key may not use.
 */
export function targetFor(config: ProxyConfig, model: unknown, client: ClientKey | null): Target {
  if (typeof model !== "string" || model === "") {
    throw invalidRequest("You must provide a model parameter", "model", "missing_model");
  }
  const target = config.targets.get(model);
  if (!target) throw modelNotFound(model, client?.visibleIds ?? config.modelIds);
  if (client?.models && !client.models.has(model)) throw forbiddenModel(model);
  return target;
}
