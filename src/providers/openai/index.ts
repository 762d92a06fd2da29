// OpenAI's wire format: OpenAI, vLLM, Ollama and every OpenAI-compatible server.
import type { Target } from "../../model/model";
import { upstreamRequestHeaders } from "../../upstream/headers";
import type { ClientCall, Outgoing, ProviderAdapter } from "../provider";
import { StreamUsage } from "./stream-usage";
import { usageOfBody } from "./usage";

/** The client already speaks this format: only the model name and the key change. */
export const openAI: ProviderAdapter = {
  outgoing(call: ClientCall, target: Target): Outgoing {
    const headers = upstreamRequestHeaders(call.headers, target.authorization, call.forwardUserInfo);
    headers["x-request-id"] = call.requestId;
    if (call.kind === "relay") {
      return { path: call.path(target.actualModelName), headers, body: call.body(target.actualModelName), stripUsage: false };
    }
    const { body } = call;
    const clientOptions = body.stream_options;
    const stripUsage = call.askUsage && target.streamUsage;
    body.model = target.actualModelName;
    body.stream_options = stripUsage ? { ...(clientOptions as object | null | undefined), include_usage: true } : clientOptions;
    const json = JSON.stringify(body);
    body.stream_options = clientOptions;
    return { path: `chat/completions${call.search}`, headers, body: json, stripUsage };
  },
  usageOfBody,
  streamWatch: (stripUsage) => new StreamUsage(stripUsage),
};
