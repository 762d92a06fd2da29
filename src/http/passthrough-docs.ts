// Plain TypeBox: Elysia's t.Integer also admits numeric strings, which would clutter the document.
import { Type as t, type TProperties, type TSchema } from "@sinclair/typebox";

/**
 * The OpenAPI entries of the passthrough. One `all("/*")` route serves every path and method, and
 * Elysia would document it as eight `/*` operations, OPTIONS and TRACE included, with no body. So
 * the common OpenAI paths are written out here, each with a minimal request schema for Swagger
 * UI's "Try it out". The schemas are documentation only: the passthrough needs nothing but a model
 * (header, query or body) and relays every body as sent.
 */

const SELECTION =
  "Relayed unchanged to the model's backend at <url>/v1/<path>, with the model name and key replaced. " +
  "The model comes from the x-model-id header, then a model query parameter, then the body's model. " +
  "Also served without the /v1 prefix.";

const Model = t.String({ minLength: 1, description: "A model id from GET /v1/models" });
const TokenIds = t.Array(t.Integer());
const TextOrTokens = t.Union([t.String(), t.Array(t.String()), TokenIds, t.Array(TokenIds)], {
  description: "A string, an array of strings, an array of token ids, or an array of token-id arrays",
});
const AnyObject = t.Object({}, { additionalProperties: true });

/** A JSON body with `model` and the fields worth showing; every other field is allowed and relayed. */
const jsonBody = (properties: TProperties) => ({
  "application/json": { schema: t.Object({ model: Model, ...properties }, { additionalProperties: true }) },
});

const RELAYED = { 200: { description: "The backend's answer, relayed as it arrives (an SSE stream when the request asks for one)" } };

const operation = (summary: string, content: Record<string, { schema: TSchema }>) => ({
  post: { summary, description: SELECTION, tags: ["Passthrough"], requestBody: { required: true, content }, responses: RELAYED },
});

const ModelHeader = {
  name: "x-model-id",
  in: "header",
  required: false,
  description: "Selects the model without touching the body (wins over the query and the body)",
  schema: t.String(),
};

const ModelQuery = {
  name: "model",
  in: "query",
  required: false,
  description: "Selects the model when there is no x-model-id header; rewritten to the backend's model name",
  schema: t.String(),
};

const RestPath = {
  name: "path",
  in: "path",
  required: true,
  description:
    "The path below /v1/, e.g. files or batches. This form sends one segment (it encodes a '/', which the proxy refuses); " +
    "deeper paths such as files/{file_id} work from any other client.",
  schema: t.String(),
};

const catchAll = (summary: string, withBody: boolean) => ({
  summary,
  description: SELECTION,
  tags: ["Passthrough"],
  parameters: [RestPath, ModelHeader, ModelQuery],
  ...(withBody && {
    requestBody: { required: false, content: { "application/json": { schema: t.Object({ model: t.Optional(Model) }, { additionalProperties: true }) } } },
  }),
  responses: RELAYED,
});

export const passthroughPaths = {
  "/v1/embeddings": operation(
    "Create embeddings",
    jsonBody({ input: t.Optional(TextOrTokens), encoding_format: t.Optional(t.String()), dimensions: t.Optional(t.Integer()) }),
  ),
  "/v1/completions": operation(
    "Create a text completion (legacy; streamed as SSE when stream is true)",
    jsonBody({ prompt: t.Optional(TextOrTokens), max_tokens: t.Optional(t.Integer()), stream: t.Optional(t.Boolean()) }),
  ),
  "/v1/responses": operation(
    "Create a response (Responses API; streamed as SSE when stream is true)",
    jsonBody({
      input: t.Optional(t.Union([t.String(), t.Array(t.Any())])),
      instructions: t.Optional(t.String()),
      stream: t.Optional(t.Boolean()),
    }),
  ),
  "/v1/audio/transcriptions": operation("Transcribe an audio file (the form's bytes are relayed unchanged, only its model field is rewritten)", {
    "multipart/form-data": {
      schema: t.Object(
        {
          file: t.String({ format: "binary", contentMediaType: "application/octet-stream", description: "The audio file" }),
          model: Model,
          language: t.Optional(t.String()),
          response_format: t.Optional(t.String()),
        },
        { additionalProperties: true },
      ),
    },
  }),
  "/v1/audio/speech": operation(
    "Generate speech from text (the audio bytes are relayed unchanged)",
    jsonBody({ input: t.Optional(t.String()), voice: t.Optional(t.String()), response_format: t.Optional(t.String()) }),
  ),
  "/v1/images/generations": operation(
    "Create images from a prompt",
    jsonBody({ prompt: t.Optional(t.String()), n: t.Optional(t.Integer()), size: t.Optional(t.String()) }),
  ),
  "/v1/moderations": operation("Classify text for policy violations", jsonBody({ input: t.Optional(t.Union([t.String(), t.Array(t.Any())])) })),
  "/v1/rerank": operation(
    "Rerank documents by relevance to a query",
    jsonBody({
      query: t.Optional(t.String()),
      documents: t.Optional(t.Array(t.Union([t.String(), AnyObject]))),
      top_n: t.Optional(t.Integer()),
    }),
  ),
  // HEAD is the GET without a body; OPTIONS (CORS preflights), TRACE and the rest are refused.
  "/v1/{path}": {
    get: catchAll("Forward a GET on any other path (files, batches, …) to the model's backend", false),
    head: catchAll("Forward a HEAD on any other path to the model's backend", false),
    post: catchAll("Forward a POST on any other path to the model's backend", true),
    put: catchAll("Forward a PUT on any other path to the model's backend", true),
    patch: catchAll("Forward a PATCH on any other path to the model's backend", true),
    delete: catchAll("Forward a DELETE on any other path to the model's backend", false),
  },
};
