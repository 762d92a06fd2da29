// TypeBox itself, not Elysia's `t`: Elysia's numbers and integers also accept numeric strings (it
// coerces query parameters), and a config file's `"idleMs": "300"` must be an error, not a string.
import { Type as t, type Static } from "@sinclair/typebox";

/**
 * The config file's shape. Unknown fields are allowed everywhere so files written for newer
 * versions (or carrying notes) still load; only the fields below are read.
 */
const Milliseconds = t.Integer({ minimum: 1, description: "milliseconds" });

const TimeoutsSchema = t.Object(
  {
    connectMs: t.Optional(Milliseconds),
    firstByteMs: t.Optional(Milliseconds),
    idleMs: t.Optional(Milliseconds),
  },
  { additionalProperties: true },
);

const HttpUrl = t.String({
  pattern: "^https?://[^\\s/?#]+[^\\s]*$",
  description: "http(s) base URL of the backend",
  error: "expected an http:// or https:// URL",
});

const EndpointSchema = t.Object(
  {
    url: HttpUrl,
    displayName: t.Optional(t.String()),
    apiKey: t.Optional(t.String()),
    actualModelName: t.Optional(t.String({ minLength: 1 })),
    timeouts: t.Optional(TimeoutsSchema),
  },
  { additionalProperties: true },
);

const ClientKeySchema = t.Object(
  {
    key: t.String({ minLength: 1, description: "the bearer key a client sends" }),
    name: t.Optional(t.String({ description: "shown in logs instead of the key" })),
    models: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "model ids this key may use; all when absent" })),
  },
  { additionalProperties: true },
);

export const ConfigFileSchema = t.Object(
  {
    endpoints: t.Record(t.String({ minLength: 1 }), EndpointSchema),
    timeouts: t.Optional(TimeoutsSchema),
    maxBodyBytes: t.Optional(t.Integer({ minimum: 1 })),
    forwardUserInfoHeaders: t.Optional(t.Boolean()),
    clientKeys: t.Optional(t.Array(ClientKeySchema)),
    adminKey: t.Optional(t.String({ minLength: 1 })),
    drainTimeoutMs: t.Optional(t.Integer({ minimum: 0, description: "milliseconds" })),
  },
  { additionalProperties: true },
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type EndpointFile = Static<typeof EndpointSchema>;
export type Timeouts = Required<Pick<Static<typeof TimeoutsSchema>, "connectMs" | "firstByteMs" | "idleMs">>;

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 };
export const DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
