// OpenAI's wire format: OpenAI, vLLM, Ollama and every OpenAI-compatible server.
import type { Target } from "../../model/model";
import { relayedRequestHeaders } from "../headers";
import type { ChatCall, ClientCall, Outgoing, ProviderAdapter } from "../provider";
import { StreamUsage } from "./stream-usage";
import { estimatedUsageOfBody, usageOfBody } from "./usage";

/** Whether the proxy asks `target` for the usage of a stream whose client did not (and takes that chunk out again). */
export const stripsUsage = (call: ClientCall, target: Target) => call.askUsage && target.streamUsage;

/**
 * The JSON of a request body, with `stream_options.include_usage` asked for when `askUsage`; the
 * body itself is left as it was.
 */
export function requestJson(body: Record<string, unknown>, askUsage: boolean): string {
  if (!askUsage) return JSON.stringify(body);
  const clientOptions = body.stream_options;
  body.stream_options = { ...(clientOptions as object | null | undefined), include_usage: true };
  const json = JSON.stringify(body);
  body.stream_options = clientOptions;
  return json;
}

/**
 * A chat body for an OpenAI-format backend: the backend's model name, and `include_usage` asked
 * for when the proxy wants the stream's usage the client did not ask for (`stripUsage`).
 */
export function chatBody(call: ChatCall, target: Target): { json: string; stripUsage: boolean } {
  const stripUsage = stripsUsage(call, target);
  call.body.model = target.actualModelName;
  return { json: requestJson(call.body, stripUsage), stripUsage };
}

/** The client already speaks this format: only the model name and the key change. */
export const openAI: ProviderAdapter = {
  outgoing(call: ClientCall, target: Target): Outgoing {
    const headers = relayedRequestHeaders(call, target.authorization);
    if (call.kind === "relay") {
      const stripUsage = stripsUsage(call, target);
      return { path: call.path(target.actualModelName), headers, body: call.body(target.actualModelName, stripUsage), stripUsage };
    }
    const { json, stripUsage } = chatBody(call, target);
    return { path: `chat/completions${call.search}`, headers, body: json, stripUsage };
  },
  usageOfBody,
  estimateOfBody: estimatedUsageOfBody,
  streamWatch: (stripUsage) => new StreamUsage(stripUsage),
};
