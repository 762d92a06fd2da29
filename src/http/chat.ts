import { Elysia, t } from "elysia";
import { withoutApiVersion } from "../providers/azure";
import type { ChatCall } from "../providers/provider";
import { readJsonObject } from "../upstream/json-body";
import { clientAccess, keyVetting } from "./client-access";
import { searchOf, type RouteContext } from "./context";
import { postedModelRequest, resolveModel, type PostedRequest } from "./model-request";
import { deploymentName } from "./passthrough";

/** Elysia converts numeric strings for t.Integer ("0x10" → 16); a whole-number t.Number rejects them. */
const WholeNumber = () => t.Number({ multipleOf: 1 });

const Message = t.Object({ role: t.String(), content: t.Optional(t.Union([t.String(), t.Array(t.Any()), t.Null()])) }, { additionalProperties: true });

/**
 * The common OpenAI fields, typed so a wrong type is a clear 400; every other field is allowed and
 * forwarded untouched.
 */
export const ChatCompletionRequest = t.Object(
  {
    model: t.String({ minLength: 1, description: "A model id from GET /models" }),
    messages: t.Array(Message),
    stream: t.Optional(t.Union([t.Boolean(), t.Null()])),
    stream_options: t.Optional(t.Union([t.Object({}, { additionalProperties: true }), t.Null()])),
    temperature: t.Optional(t.Union([t.Number(), t.Null()])),
    top_p: t.Optional(t.Union([t.Number(), t.Null()])),
    n: t.Optional(t.Union([WholeNumber(), t.Null()])),
    max_tokens: t.Optional(t.Union([WholeNumber(), t.Null()])),
    max_completion_tokens: t.Optional(t.Union([WholeNumber(), t.Null()])),
    stop: t.Optional(t.Union([t.String(), t.Array(t.String()), t.Null()])),
    presence_penalty: t.Optional(t.Union([t.Number(), t.Null()])),
    frequency_penalty: t.Optional(t.Union([t.Number(), t.Null()])),
    seed: t.Optional(t.Union([WholeNumber(), t.Null()])),
    user: t.Optional(t.String()),
    tools: t.Optional(t.Array(t.Any())),
    tool_choice: t.Optional(t.Union([t.String(), t.Object({}, { additionalProperties: true })])),
    response_format: t.Optional(t.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);

/**
 * The same request on an Azure deployment path, which names the model: the body's `model` is then
 * absent, `""` (Azure's samples) or an OpenAI model's name, and Azure ignores it.
 */
const AzureChatCompletionRequest = t.Object({ ...ChatCompletionRequest.properties, model: t.Optional(t.String()) }, { additionalProperties: true });

/** Where Azure OpenAI clients post a chat completion (`?api-version=…` in the query), under the route prefix. */
const AZURE_CHAT_PATHS = ["/openai/deployments/:deployment/chat/completions", "/deployments/:deployment/chat/completions"];
const DEPLOYMENT_SEGMENT = /\/deployments\/([^/]+)\/chat\/completions/;

type ChatBody = ChatCall["body"];
type Server = { timeout(request: Request, seconds: number): void } | null;

/**
 * `POST /chat/completions`, and the same on Azure's deployment paths (so an Azure client's chat is
 * translated for any provider, and its stream's usage asked for, like any other): the model id
 * becomes the backend's model name, the key becomes the backend's, and the backend's answer (JSON
 * or an SSE stream) is relayed as it arrives.
 */
export const chatRoutes = ({ configs, catalogs, dispatcher, observe, keys }: RouteContext, prefix: string) => {
  const vetKey = keyVetting(catalogs, keys);
  // The bounded reader always answers; "json" follows it only so the OpenAPI document
  // declares the application/json body (the generator skips function parsers).
  const parse = [({ request }: { request: Request }) => readJsonObject(request, configs.current.maxBodyBytes, vetKey), "json" as const];
  const answer = (posted: PostedRequest, server: Server, body: ChatBody, named: unknown, search: string) => {
    const { request, catalog, config, client, record } = posted;
    const model = resolveModel(catalog, named, client, record);
    // Generations may take minutes before their first byte: never cut this connection for idling.
    server?.timeout(request, 0);
    // A stream reports its usage only when asked: the proxy asks, and takes that chunk out again.
    const askUsage =
      body.stream === true && config.usage.streamUsage && (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage !== true;
    const call: ChatCall = {
      kind: "chat",
      body,
      search,
      askUsage,
      headers: request.headers,
      forwardUserInfo: config.openWebUI.forwarding,
      requestId: record.id,
    };
    return dispatcher.dispatch(postedModelRequest(posted, model, call, "answer"));
  };
  const routes = new Elysia({ name: "chat", seed: prefix, prefix }).use(clientAccess(catalogs, observe, keys)).post(
    "/chat/completions",
    // The context is destructured here and never passed whole: Elysia reads this parameter to decide
    // what to build per request, and a context handed on whole makes it parse the cookies, the query
    // and a headers object for every request (src/server/inference.test.ts holds the routes to it).
    ({ body, request, server, catalog, config, client, record, limitUser }) =>
      answer({ request, catalog, config, client, record, limitUser }, server, body, body.model, searchOf(request.url)),
    {
      parse,
      body: ChatCompletionRequest,
      detail: {
        summary: "Create a chat completion (streamed as SSE when stream is true)",
        tags: ["Chat"],
        hide: prefix === "",
      },
    },
  );
  for (const path of AZURE_CHAT_PATHS) {
    routes.post(
      path,
      ({ body, request, server, catalog, config, client, record, limitUser }) => {
        // Decoded here, not by Elysia, which turns a segment that is not percent-encoding into U+FFFD.
        // The route matched the path, which comes before the query: its first match is the segment.
        const deployment = deploymentName(DEPLOYMENT_SEGMENT.exec(request.url)![1]!);
        // The api-version is Azure's alone: an Azure target sets its own, and no other backend knows it.
        const rest = withoutApiVersion(searchOf(request.url));
        return answer({ request, catalog, config, client, record, limitUser }, server, body, deployment, rest ? `?${rest}` : "");
      },
      { parse, body: AzureChatCompletionRequest, detail: { hide: true } },
    );
  }
  return routes;
};
