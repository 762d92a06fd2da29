import { jsonResponse } from "../lib/json-response";

/**
 * Every error the proxy itself produces leaves through `errorResponse`, in OpenAI's shape
 * `{"error":{"message","type","param","code"}}`, so SDKs map the status to their error classes
 * and Open WebUI shows `error.message`.
 */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "api_error"
  | "upstream_error"
  | "timeout_error";

export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

export class ProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAIErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (which model and target a failed model request reached). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = "ProxyError";
  }

  withHeaders(headers: Readonly<Record<string, string>>): ProxyError {
    return new ProxyError(this.status, this.message, this.type, this.code, this.param, { ...this.headers, ...headers });
  }

  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ProxyError(400, message, "invalid_request_error", code, param);

/** Client-chosen text quoted in an error message is cut to this length. */
const MAX_QUOTED = 200;
const quoted = (text: string) => (text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);

export const modelNotFound = (model: string, available: readonly string[]) =>
  new ProxyError(
    404,
    `The model '${quoted(model)}' does not exist. Available models: ${available.join(", ") || "(none configured)"}`,
    "invalid_request_error",
    "model_not_found",
    "model",
  );

export const payloadTooLarge = (limit: number) =>
  new ProxyError(413, `Request body is larger than the limit of ${limit} bytes`, "invalid_request_error", "payload_too_large");

export const badGateway = (model: string, reason: string) =>
  new ProxyError(502, `Backend for model '${model}' could not be reached: ${reason}`, "upstream_error", "backend_unreachable");

export const gatewayTimeout = (model: string, what: string) =>
  new ProxyError(504, `Backend for model '${model}' did not answer in time: ${what}`, "timeout_error", "backend_timeout");

export function errorResponse(error: ProxyError): Response {
  return jsonResponse(JSON.stringify(error.toJSON()), error.status, error.headers as Record<string, string> | undefined);
}

/** The SSE event a stream ends with when its backend fails after the first byte was sent. */
export function sseErrorEvent(error: ProxyError): string {
  return `data: ${JSON.stringify(error.toJSON())}\n\n`;
}
