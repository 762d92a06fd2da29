import { Elysia, t } from "elysia";
import type { MessagesCall } from "../providers/provider";
import { readJsonObject } from "../upstream/json-body";
import { clientAccess, keyVetting } from "./client-access";
import type { RouteContext } from "./context";
import { postedModelRequest, resolveModel, type PostedRequest } from "./model-request";

/** The paths whose errors are answered in Anthropic's shape (app.ts's onError asks). */
const MESSAGES_PATH = /^(?:\/v1)?\/messages(?:\/count_tokens)?\/?$/;

/** The path of a request URL, without parsing it whole (a request line may carry no valid URL at all). */
const PATH_OF_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/i;

/** Whether a request's URL is one of the Messages routes, whose errors are in Anthropic's shape. */
export function isMessagesUrl(url: string): boolean {
  const path = PATH_OF_URL.exec(url)?.[1];
  return path !== undefined && MESSAGES_PATH.test(path);
}

/** The fields every Messages request has, typed; every other field is allowed and passed on (natively) or translated. */
const MessagesRequest = t.Object(
  {
    model: t.String({ minLength: 1, description: "A model id from GET /models (or an alias)" }),
    messages: t.Array(t.Object({ role: t.String(), content: t.Union([t.String(), t.Array(t.Any())]) }, { additionalProperties: true })),
    max_tokens: t.Optional(t.Number()),
    stream: t.Optional(t.Boolean()),
    system: t.Optional(t.Union([t.String(), t.Array(t.Any())])),
    tools: t.Optional(t.Array(t.Any())),
  },
  { additionalProperties: true },
);

/**
 * Anthropic's Messages API for every model the proxy serves: `POST /messages` (streamed as
 * Anthropic's events when `stream` is true) and `POST /messages/count_tokens`. An Anthropic target
 * gets the request as sent (model and key changed); any other, a chat completion made of it.
 * Errors are in Anthropic's shape.
 */
/** The Messages call of a posted body, for the operation asked. */
const messagesCall = (posted: PostedRequest & { readonly body: MessagesCall["body"] }, operation: MessagesCall["operation"]): MessagesCall => ({
  kind: "messages",
  operation,
  body: posted.body,
  headers: posted.request.headers,
  forwardUserInfo: posted.config.openWebUI.forwarding,
  requestId: posted.record.id,
});

export const messagesRoutes = ({ configs, catalogs, dispatcher, observe, keys }: RouteContext, prefix: string) => {
  const vetKey = keyVetting(catalogs, keys);
  return new Elysia({ name: "messages", seed: prefix, prefix })
    .use(clientAccess(catalogs, observe, keys))
    .post(
      "/messages",
      // Destructured here, never passed whole: see chat.ts.
      ({ body, request, server, catalog, config, client, record, limitUser }) => {
        const posted = { body, request, catalog, config, client, record, limitUser };
        const model = resolveModel(posted.catalog, posted.body.model, posted.client, posted.record);
        server?.timeout(request, 0);
        return dispatcher.dispatch(postedModelRequest(posted, model, messagesCall(posted, "messages"), "answer"));
      },
      {
        parse: [({ request }) => readJsonObject(request, configs.current.maxBodyBytes, vetKey), "json"],
        body: MessagesRequest,
        detail: {
          summary: "Create a message (Anthropic's Messages API; Anthropic's events when stream is true)",
          tags: ["Anthropic Messages"],
          hide: prefix === "",
        },
      },
    )
    .post(
      "/messages/count_tokens",
      ({ body, request, catalog, config, client, record, limitUser }) => {
        const posted = { body, request, catalog, config, client, record, limitUser };
        const model = resolveModel(posted.catalog, posted.body.model, posted.client, posted.record);
        // An Anthropic target counts; any other answers the documented estimate, without a backend call (providers/messages.ts).
        return dispatcher.dispatch(postedModelRequest(posted, model, messagesCall(posted, "messages/count_tokens"), "token count"));
      },
      {
        parse: [({ request }) => readJsonObject(request, configs.current.maxBodyBytes, vetKey), "json"],
        body: MessagesRequest,
        detail: { summary: "Count a message's input tokens (an estimate for non-Anthropic backends)", tags: ["Anthropic Messages"], hide: prefix === "" },
      },
    );
};
