import { Elysia, ParseError, ValidationError } from "elysia";
import { errorResponse, invalidRequest, ProxyError } from "../model/errors";
import { jsonResponse } from "../lib/json-response";
import { anthropicErrorBody } from "../providers/anthropic/inbound";
import { ownBodyBytes } from "../lib/json-response";
import type { Logger } from "../lib/log";
import type { Outcome } from "../observe/record";
import { describeValueError, dottedPath } from "../lib/schema-errors";
import { adminRoutes } from "../http/admin";
import { chatRoutes } from "../http/chat";
import { isMessagesUrl, messagesRoutes } from "../http/messages";
import { corsPlugin } from "../http/cors";
import { ROUTE_PREFIXES, type RouteContext } from "../http/context";
import { docsRoutes } from "../http/docs";
import { metricsRoutes } from "../http/metrics";
import { modelRoutes } from "../http/models";
import { ownRouteMethods } from "../http/own-routes";
import { passthroughRoutes } from "../http/passthrough";
import { statusRoutes } from "../http/status";
import { usageRoutes } from "../http/usage";
import { keyRoutes } from "../http/keys";
import { meRoutes } from "../http/me";
import { VERSION } from "../lib/version";
import { clientClosed } from "../upstream/forward";

function validationError(error: ValidationError): ProxyError {
  const first = error.valueError;
  if (!first) return invalidRequest("The request body is not valid", null, "invalid_body");
  const field = dottedPath(first.path);
  if (first.value === undefined) return invalidRequest(`Missing required parameter: '${field}'`, field, "missing_required_parameter");
  return invalidRequest(`Invalid type for '${field}': ${describeValueError(first)}`, field, "invalid_type");
}

/** How a request the proxy answered itself ended. */
function outcomeOfStatus(status: number): Outcome {
  if (status === 499) return "client_aborted";
  if (status === 504) return "timeout";
  return status === 502 || status === 503 ? "upstream_error" : "ok";
}

/** Maps every failure to OpenAI's error shape, in one place. */
function toProxyError(code: string | number, error: unknown, log: Logger, clientGone: boolean): ProxyError {
  if (error instanceof ProxyError) return error;
  // Elysia wraps whatever a body parser throws (our 400s and 413s included) in a ParseError.
  if (error instanceof ParseError && error.cause instanceof ProxyError) return error.cause;
  // The client left while its body was being read: not the proxy's failure, and nobody reads the answer.
  if (clientGone) return clientClosed();
  if (error instanceof ValidationError) return validationError(error);
  if (code === "PARSE") return invalidRequest("We could not parse the JSON body of your request", null, "invalid_json");
  if (code === "NOT_FOUND") return new ProxyError(404, "Unknown route", "invalid_request_error", "unknown_route");
  const stack = (error as Error)?.stack ?? String(error);
  log.error(`unhandled ${String(code)}: ${stack}`, { code: String(code), error: stack });
  return new ProxyError(500, "The proxy failed to handle the request", "api_error", "internal_error");
}

/**
 * The error's answer: in Anthropic's shape on its Messages routes, in OpenAI's on every other. One
 * that cannot be built (a header value no response may carry) becomes a bare 500 with the request
 * id, never Bun's own plain-text page.
 */
function shapedResponse(error: ProxyError, request: Request, id: string | undefined, log: Logger): Response {
  try {
    return isMessagesUrl(request.url)
      ? jsonResponse(anthropicErrorBody(error.status, error.message), error.status, error.headers as Record<string, string> | undefined)
      : errorResponse(error);
  } catch (failure) {
    const stack = (failure as Error)?.stack ?? String(failure);
    log.error(`unhandled error answer: ${stack}`, { error: stack });
    const bare = new ProxyError(500, "The proxy failed to handle the request", "api_error", "internal_error");
    return errorResponse(id ? bare.withHeaders({ "x-request-id": id }) : bare);
  }
}

/**
 * The whole HTTP surface, wired from plugins that receive the shared state explicitly.
 * `normalize: false`: a proxy relays bodies as sent; Elysia's normalizer would rebuild each body
 * (and turns a wrongly typed field into a misleading one before validation reports it).
 */
export function createApp(context: RouteContext) {
  const { observe } = context;
  const app = new Elysia({ name: "cm-open-webui-proxy", normalize: false })
    // Every request gets its record (and id) first; it ends here unless a relayed body ends it.
    .onRequest(({ request }) => {
      observe.begin(request);
    })
    // The id goes on every answer: a relayed one carries it among the backend's headers (the
    // dispatch puts it there), errors get it in onError, and the proxy's own answers here. Never
    // through `set.headers` on a relayed answer: Elysia would copy the whole response to add it.
    .onAfterHandle({ as: "global" }, ({ request, set }) => {
      const record = observe.of(request);
      if (record && !record.endsWithBody) set.headers["x-request-id"] = record.id;
    })
    .onAfterResponse({ as: "global" }, ({ request, set, responseValue }) => {
      const record = observe.of(request);
      if (!record) return;
      if (record.endsWithBody) {
        record.afterResponse?.();
        return;
      }
      const answer = responseValue instanceof Response ? responseValue : null;
      const status = answer ? answer.status : Number(set.status) || 200;
      // An error's answer is sized where onError makes it (here the value is the error itself).
      if (answer) record.bytesOut = ownBodyBytes(answer) ?? 0;
      else if (typeof responseValue === "string") record.bytesOut = Buffer.byteLength(responseValue);
      record.end(status, outcomeOfStatus(status));
    })
    .use(corsPlugin(observe))
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const proxyError = toProxyError(code, error, context.log, request.signal.aborted);
      const record = observe.of(request);
      const shaped = record ? proxyError.withHeaders({ "x-request-id": record.id }) : proxyError;
      const response = shapedResponse(shaped, request, record?.id, context.log);
      // What the record ends with (onAfterResponse): the status of this answer, not Elysia's guess from the error.
      set.status = response.status;
      // A client that left reads nothing.
      if (record) record.bytesOut = request.signal.aborted ? 0 : (ownBodyBytes(response) ?? 0);
      return response;
    })
    .use(docsRoutes(VERSION));
  for (const prefix of ROUTE_PREFIXES) {
    app
      .use(modelRoutes(context, prefix))
      .use(chatRoutes(context, prefix))
      .use(messagesRoutes(context, prefix))
      .use(adminRoutes(context, prefix))
      .use(metricsRoutes(context, prefix));
    app.use(usageRoutes(context, prefix)).use(keyRoutes(context, prefix)).use(meRoutes(context, prefix));
  }
  app.use(statusRoutes(context));
  // Read at the first request, when the route table is complete.
  let ownMethods: ReturnType<typeof ownRouteMethods> | null = null;
  return app.use(passthroughRoutes(context, (pathname) => (ownMethods ??= ownRouteMethods(app.routes))(pathname)));
}
