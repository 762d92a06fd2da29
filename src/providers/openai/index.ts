// OpenAI's wire format: OpenAI, vLLM, Ollama and every OpenAI-compatible server.
import type { Target } from "../../model/model";
import { relayedRequestHeaders } from "../headers";
import type { ChatCall, ClientCall, Outgoing, ProviderAdapter } from "../provider";
import { StreamUsage } from "./stream-usage";
import { usageOfBody } from "./usage";

/**
 * A chat body for an OpenAI-format backend: the backend's model name, and `include_usage` asked
 * for when the proxy wants the stream's usage the client did not ask for (`stripUsage`).
 */
export function chatBody(call: ChatCall, target: Target): { json: string; stripUsage: boolean } {
  const { body } = call;
  const clientOptions = body.stream_options;
  const stripUsage = call.askUsage && target.streamUsage;
  body.model = target.actualModelName;
  body.stream_options = stripUsage ? { ...(clientOptions as object | null | undefined), include_usage: true } : clientOptions;
  const json = JSON.stringify(body);
  body.stream_options = clientOptions;
  return { json, stripUsage };
}

/** The client already speaks this format: only the model name and the key change. */
export const openAI: ProviderAdapter = {
  outgoing(call: ClientCall, target: Target): Outgoing {
    const headers = relayedRequestHeaders(call, target.authorization);
    if (call.kind === "relay") {
      const stripUsage = call.askUsage && target.streamUsage;
      return { path: call.path(target.actualModelName), headers, body: call.body(target.actualModelName, stripUsage), stripUsage };
    }
    const { json, stripUsage } = chatBody(call, target);
    return { path: `chat/completions${call.search}`, headers, body: json, stripUsage };
  },
  usageOfBody,
  streamWatch: (stripUsage) => new StreamUsage(stripUsage),
};
