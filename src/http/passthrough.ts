import { Elysia } from "elysia";
import type { ProxyConfig } from "../config/proxy-config";
import { invalidRequest, ProxyError } from "../model/errors";
import { checkDeclaredLength, declaredLength, readBody } from "../upstream/body-limit";
import type { UpstreamRequest } from "../upstream/forward";
import { asJsonObject, readJson } from "../upstream/json-body";
import { boundaryOf, findMultipartField } from "../upstream/multipart";
import { withQueryModel } from "../upstream/query";
import { bufferForReplay } from "../upstream/replay";
import { clientAccess } from "./client-access";
import type { RouteContext } from "./context";
import { reportsUsage, resolveModel } from "./model-request";
import { requestJson } from "../providers/openai";

interface ClientPath {
  /** The path below `/v1/` on the backend. */
  readonly path: string;
  /** The deployment an Azure OpenAI client named in its path: the model when nothing else names one. */
  readonly deployment: string | null;
}

const AZURE_DEPLOYMENT = /^(?:openai\/)?deployments\/([^/]+)\/(.+)$/;

/**
 * A path with its percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2), as backends
 * decode them: `/v1/embedding%73` is `/v1/embeddings`, and is metered and routed as such.
 */
function decodeUnreserved(pathname: string): string {
  if (!pathname.includes("%")) return pathname;
  return pathname.replace(/%[0-9a-fA-F]{2}/g, (escape) => {
    const char = String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape;
  });
}

/**
 * The path below `/v1/` a client asked for: `/v1/embeddings`, `/embeddings` and `/v1/embeddings/`
 * all give `embeddings` (a backend may answer a trailing slash with a redirect to itself). Azure
 * OpenAI clients put the model in the path
 * (`/openai/deployments/<model>/chat/completions?api-version=…`): that becomes `chat/completions`.
 */
function clientPath(url: URL): ClientPath {
  let path = decodeUnreserved(url.pathname).slice(1);
  if (path.startsWith("v1/")) path = path.slice(3);
  if (path.endsWith("/")) path = path.replace(/\/+$/, "");
  const azure = AZURE_DEPLOYMENT.exec(path);
  if (!azure) return { path, deployment: null };
  url.searchParams.delete("api-version");
  return { path: azure[2]!, deployment: deploymentName(azure[1]!) };
}

/** An Azure deployment path's model, from its percent-encoded segment (a 400 when that is not percent-encoding). */
export function deploymentName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidRequest(`Invalid deployment name '${segment.slice(0, 100)}' in the path`, null, "invalid_path");
  }
}

/** Refuses any path that would leave `<url>/v1/` on the backend, however it is spelled. */
function checkStaysUnderPrefix(prefix: string, path: string): void {
  const upstream = new URL(prefix + path);
  if (!upstream.pathname.startsWith(new URL(prefix).pathname) || /%2f|%5c/i.test(path)) {
    throw invalidRequest(`Invalid request path '/${path}'`, null, "invalid_path");
  }
}

/**
 * The request's URL, or null for a request line in authority form (`host:port`), which names no
 * path. A request without a Host header (HTTP/1.0) comes with the bare path as its URL.
 */
const requestUrl = (url: string) => (url.startsWith("/") ? URL.parse(`http://localhost${url}`) : URL.parse(url));

type Body = UpstreamRequest["body"];

/** The methods the OpenAI-style APIs use; anything else (TRACE, PROPFIND, …) never reaches a backend. */
const FORWARDED_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);

const sameOriginRedirect = (location: string) => new Response(null, { status: 308, headers: { location } });

const methodNotAllowed = (method: string, allowed?: readonly string[]) => {
  const error = new ProxyError(
    405,
    allowed ? `Method ${method} is not supported here; this path takes ${allowed.join(", ")}` : `Method ${method} is not supported`,
    "invalid_request_error",
    "method_not_allowed",
  );
  return allowed ? error.withHeaders({ allow: allowed.join(", ") }) : error;
};

interface Selection {
  model: unknown;
  /** Re-creates the body with the backend's model name (asking for a stream's usage when `withUsage`), once the target is known. */
  rewrite(actualModelName: string, withUsage?: boolean): Body;
  /** The body is the client's stream, passed on as it arrives. */
  streamed?: boolean;
  /** A JSON object body, parsed. */
  json?: Record<string, unknown> | null;
}

const isJson = (contentType: string) => contentType.includes("json");

/** A legacy `/completions` stream reports its usage only when asked (as chat does): the proxy asks when the client did not. */
const asksCompletionUsage = (path: string, json: Record<string, unknown> | null, config: ProxyConfig) =>
  path === "completions" &&
  json?.stream === true &&
  config.usage.streamUsage &&
  (json.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage !== true;

/**
 * Finds the model in the request body and prepares its rewrite: JSON is parsed; other bodies are
 * streamed untouched, except a multipart form when no header or query names the model (its
 * `model` field is rewritten in place, every other byte kept). An Azure deployment path names the
 * model before the body does, as on Azure, which ignores the body's `model`: its SDKs send `""` or
 * the OpenAI model's name there. A JSON object that names no model gets one when a deployment path
 * named it (Azure's REST API puts the model nowhere else): an OpenAI-compatible backend needs it,
 * and Azure ignores it.
 */
async function selectFromBody(request: Request, config: ProxyConfig, named: string | null, deployment: string | null): Promise<Selection> {
  const contentType = request.headers.get("content-type") ?? "";
  const limit = config.maxBodyBytes;
  if (!request.body) return { model: named, rewrite: () => null };
  if (isJson(contentType)) {
    const json = await readJson(request, limit);
    const record = asJsonObject(json);
    // Nothing else names the model, and a body that is no object cannot: say what is wrong with it.
    if (record === null && named === null && deployment === null) throw invalidRequest("The request body must be a JSON object", null, "invalid_body");
    const addsModel = named === null && deployment !== null && record !== null && !("model" in record);
    return {
      model: named ?? deployment ?? record?.model,
      json: record,
      rewrite: (actual, withUsage = false) => {
        if (record && ("model" in record || addsModel)) record.model = actual;
        return record ? requestJson(record, withUsage) : JSON.stringify(json);
      },
    };
  }
  const boundary = named === null && contentType.startsWith("multipart/form-data") ? boundaryOf(contentType) : null;
  if (boundary) {
    const bytes = await readBody(request, limit);
    const field = findMultipartField(bytes, boundary, "model");
    return { model: deployment ?? field?.value, rewrite: (actual) => (field ? field.replace(actual) : bytes) };
  }
  checkDeclaredLength(request.headers, limit);
  return { model: named, rewrite: () => request.body, streamed: true };
}

/**
 * Every other OpenAI-style path (embeddings, audio, images, completions, responses, rerank, …):
 * forwarded to `<url>/v1/<path>` with method, query and body. The model comes from the
 * `x-model-id` header, then a `model` query parameter, then the body, and is rewritten wherever
 * it was found.
 */
export const passthroughRoutes = ({ catalogs, dispatcher, observe, keys }: RouteContext, ownMethodsOf: (pathname: string) => string[] | null) =>
  new Elysia({ name: "passthrough" }).use(clientAccess(catalogs, observe, keys)).all(
    "/*",
    async ({ request, server, catalog, config, client, record, limitUser }) => {
      if (!FORWARDED_METHODS.has(request.method)) throw methodNotAllowed(request.method);
      const url = requestUrl(request.url);
      if (!url) throw invalidRequest("Invalid request target", null, "invalid_path");
      // A base URL ending in "/" (`http://proxy/v1/` + `/models`): the same path without the empty
      // segment, which clients follow with the same method, body and key (308), on every route.
      if (url.pathname.includes("//")) return sameOriginRedirect(url.pathname.replace(/\/{2,}/g, "/") + url.search);
      // A path of the proxy's own (/health, /reload, …) with another method: not a backend's to answer.
      const own = ownMethodsOf(url.pathname);
      if (own) throw methodNotAllowed(request.method, own);
      const { path, deployment } = clientPath(url);
      const queryModel = url.searchParams.get("model");
      const selection = await selectFromBody(request, config, request.headers.get("x-model-id") ?? queryModel, deployment);
      const model = resolveModel(catalog, selection.model ?? deployment, client, record);
      for (const target of model.targets) checkStaysUnderPrefix(target.prefix, path);
      server?.timeout(request, 0);
      // A streamed body can be sent again only if it was kept: worth it when a retry may follow.
      const retries = model.retry.attempts > 1 || model.fallbacks.length > 0;
      let body: Body = null;
      if (selection.streamed && retries && request.body) body = await bufferForReplay(request.body, declaredLength(request.headers), config.maxBodyBytes);
      const search = url.search;
      return dispatcher.dispatch({
        model,
        catalog,
        method: request.method,
        call: {
          kind: "relay",
          method: request.method,
          operation: path,
          json: selection.json ?? null,
          path: (actualModelName) => path + (queryModel === null ? search : withQueryModel(search, actualModelName)),
          askUsage: asksCompletionUsage(path, selection.json ?? null, config),
          body: (actualModelName, withUsage) => body ?? selection.rewrite(actualModelName, withUsage),
          headers: request.headers,
          forwardUserInfo: config.openWebUI.forwarding,
          requestId: record.id,
        },
        replayable: !selection.streamed || body instanceof Uint8Array,
        maxBodyBytes: config.maxBodyBytes,
        clientSignal: request.signal,
        record,
        readsUsage: reportsUsage(path),
        limited: true,
        client,
        user: limitUser,
      });
    },
    {
      parse: "none",
      // Documented path by path in passthrough-docs.ts.
      detail: { hide: true },
    },
  );
