import { invalidRequest, modelNotFound } from "../errors";
import type { ProxyConfig, Target } from "../config/proxy-config";

/** The configured target for a client-facing model id, or the 400/404 the client gets instead. */
export function targetFor(config: ProxyConfig, model: unknown): Target {
  if (typeof model !== "string" || model === "") {
    throw invalidRequest("You must provide a model parameter", "model", "missing_model");
  }
  const target = config.targets.get(model);
  if (!target) throw modelNotFound(model, config.modelIds);
  return target;
}
