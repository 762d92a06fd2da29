import { Elysia, t } from "elysia";
import type { ChatCall } from "../providers/provider";
import { readJsonObject } from "../upstream/json-body";
import { clientAccess, keyVetting } from "./client-access";
import { searchOf, type RouteContext } from "./context";
import { postedModelRequest, resolveModel } from "./model-request";

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
    stream: t.Optional(t.Boolean()),
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
 * `POST /chat/completions`: the model id becomes the backend's model name, the key becomes the
 * backend's, and the backend's answer (JSON or an SSE stream) is relayed as it arrives.
 */
export const chatRoutes = ({ configs, catalogs, dispatcher, observe, keys }: RouteContext, prefix: string) => {
  const vetKey = keyVetting(catalogs, keys);
  return new Elysia({ name: "chat", seed: prefix, prefix }).use(clientAccess(catalogs, observe, keys)).post(
    "/chat/completions",
    // The context is destructured here and never passed whole: Elysia reads this parameter to decide
    // what to build per request, and a context handed on whole makes it parse the cookies, the query
    // and a headers object for every request (src/server/inference.test.ts holds the routes to it).
    ({ body, request, server, catalog, config, client, record, limitUser }) => {
      const model = resolveModel(catalog, body.model, client, record);
      // Generations may take minutes before their first byte: never cut this connection for idling.
      server?.timeout(request, 0);
      // A stream reports its usage only when asked: the proxy asks, and takes that chunk out again.
      const askUsage =
        body.stream === true && config.usage.streamUsage && (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage !== true;
      const call: ChatCall = {
        kind: "chat",
        body,
        search: searchOf(request.url),
        askUsage,
        headers: request.headers,
        forwardUserInfo: config.openWebUI.forwarding,
        requestId: record.id,
      };
      return dispatcher.dispatch(postedModelRequest({ request, catalog, config, client, record, limitUser }, model, call, "answer"));
    },
    {
      // The bounded reader always answers; "json" follows it only so the OpenAPI document
      // declares the application/json body (the generator skips function parsers).
      parse: [({ request }) => readJsonObject(request, configs.current.maxBodyBytes, vetKey), "json"],
      body: ChatCompletionRequest,
      detail: {
        summary: "Create a chat completion (streamed as SSE when stream is true)",
        tags: ["Chat"],
        hide: prefix === "",
      },
    },
  );
};
