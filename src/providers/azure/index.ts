// Azure OpenAI: OpenAI's wire format with the key in `api-key` and Azure's paths. With `apiVersion`,
// the classic deployment paths (`/openai/deployments/<actualModelName>/<op>?api-version=<v>`);
// without it, the v1 paths (`/openai/v1/<op>`) with the model in the body. Answers are relayed
// byte for byte, as for any OpenAI-compatible backend.
import type { Target } from "../../model/model";
import { relayedRequestHeaders } from "../headers";
import { chatBody, stripsUsage } from "../openai";
import { StreamUsage } from "../openai/stream-usage";
import { estimatedUsageOfBody, usageOfBody } from "../openai/usage";
import type { ClientCall, Outgoing, ProviderAdapter } from "../provider";

/** The operations the classic API serves below a deployment; every other one sits at `/openai/<op>`. */
const DEPLOYMENT_OPERATIONS = new Set([
  "chat/completions",
  "completions",
  "embeddings",
  "audio/transcriptions",
  "audio/translations",
  "audio/speech",
  "images/generations",
  "images/edits",
]);

/** `?a=1&api-version=x&b=2` without its api-version (the target's replaces any the client sent). */
export function withoutApiVersion(query: string): string {
  if (query === "") return "";
  const kept = query
    .slice(1)
    .split("&")
    .filter((pair) => pair !== "" && pair.split("=", 1)[0] !== "api-version");
  return kept.length > 0 ? kept.join("&") : "";
}

/** The path below the target's `<url>/openai/` for an operation (below `/v1/`) and the client's query (with its `?`, or ""). */
export function azurePath(target: Target, operation: string, query: string): string {
  const version = target.apiVersion;
  if (!version) return `v1/${operation}${query}`;
  const rest = withoutApiVersion(query);
  const search = `?api-version=${encodeURIComponent(version)}${rest ? `&${rest}` : ""}`;
  const base = operation.replace(/\/+$/, "");
  return DEPLOYMENT_OPERATIONS.has(base) ? `deployments/${encodeURIComponent(target.actualModelName)}/${operation}${search}` : `${operation}${search}`;
}

function splitQuery(path: string): [string, string] {
  const at = path.indexOf("?");
  return at === -1 ? [path, ""] : [path.slice(0, at), path.slice(at)];
}

export const azure: ProviderAdapter = {
  outgoing(call: ClientCall, target: Target): Outgoing {
    const headers = relayedRequestHeaders(call, null);
    if (target.apiKey) headers["api-key"] = target.apiKey;
    if (call.kind === "relay") {
      const [operation, query] = splitQuery(call.path(target.actualModelName));
      const stripUsage = stripsUsage(call, target);
      return { path: azurePath(target, operation, query), headers, body: call.body(target.actualModelName, stripUsage), stripUsage };
    }
    const { json, stripUsage } = chatBody(call, target);
    return { path: azurePath(target, "chat/completions", call.search), headers, body: json, stripUsage };
  },
  usageOfBody,
  estimateOfBody: estimatedUsageOfBody,
  streamWatch: (stripUsage) => new StreamUsage(stripUsage),
};
