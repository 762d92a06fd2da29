import { Elysia, ValidationError } from "elysia";
import { errorResponse, invalidRequest, ProxyError } from "./errors";
import type { Logger } from "./log";
import { adminRoutes } from "./routes/admin";
import { chatRoutes } from "./routes/chat";
import { corsPlugin } from "./routes/cors";
import { ROUTE_PREFIXES, type RouteContext } from "./routes/context";
import { docsRoutes } from "./routes/docs";
import { modelRoutes } from "./routes/models";
import { passthroughRoutes } from "./routes/passthrough";
import { VERSION } from "./version";

function validationMessage(error: ValidationError): string {
  const first = error.valueError;
  if (!first) return "Invalid request body";
  const field = first.path.split("/").filter(Boolean).join(".");
  return `Invalid value for '${field || "body"}': ${first.message}`;
}

/** Maps every failure to OpenAI's error shape, in one place. */
function toProxyError(code: string | number, error: unknown, log: Logger): ProxyError {
  if (error instanceof ProxyError) return error;
  if (error instanceof ValidationError) {
    const param = error.valueError?.path.split("/").filter(Boolean).join(".") || null;
    return invalidRequest(validationMessage(error), param, "invalid_value");
  }
  if (code === "PARSE") return invalidRequest("We could not parse the JSON body of your request", null, "invalid_json");
  if (code === "NOT_FOUND") return new ProxyError(404, "Unknown route", "invalid_request_error", "unknown_route");
  log.error(`unhandled ${String(code)}: ${(error as Error)?.stack ?? String(error)}`);
  return new ProxyError(500, "The proxy failed to handle the request", "api_error", "internal_error");
}

/** The whole HTTP surface, wired from plugins that receive the shared state explicitly. */
export function createApp(context: RouteContext) {
  const app = new Elysia({ name: "cm-open-webui-proxy" })
    .use(corsPlugin())
    .onError({ as: "global" }, ({ code, error }) => errorResponse(toProxyError(code, error, context.log)))
    .use(docsRoutes(VERSION));
  for (const prefix of ROUTE_PREFIXES) {
    app.use(modelRoutes(context, prefix)).use(chatRoutes(context, prefix)).use(adminRoutes(context, prefix));
  }
  return app.use(passthroughRoutes(context));
}
