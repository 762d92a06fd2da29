// TypeBox itself, not Elysia's `t`: Elysia's numbers and integers also accept numeric strings (it
// coerces query parameters), and a config file's `"idleMs": "300"` must be an error, not a string.
import { Type as t, type Static } from "@sinclair/typebox";
import type { Timeouts } from "../model/model";
import { DEFAULT_MAX_IN_FLIGHT, MAX_IN_FLIGHT_LIMIT } from "./in-flight-limits";

/**
 * The config file's shape. Unknown fields are allowed everywhere so files written for newer
 * versions (or carrying notes) still load; only the fields below are read.
 */
/** The longest delay a timer takes (2^31 − 1 ms, about 24.8 days): a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
const Milliseconds = t.Integer({ minimum: 1, maximum: MAX_TIMER_MS, description: "milliseconds" });

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

const Provider = t.Union([t.Literal("openai"), t.Literal("anthropic"), t.Literal("gemini"), t.Literal("azure")], {
  description: "the backend's wire format: openai (default, every OpenAI-compatible server), anthropic, gemini, azure",
});

/** The fields whose meaning depends on the provider (checked in validate.ts against it). */
const providerFields = {
  provider: t.Optional(Provider),
  maxTokens: t.Optional(t.Integer({ minimum: 1, description: "anthropic: the max_tokens sent when the client gave none (default 4096)" })),
  apiVersion: t.Optional(
    t.String({ minLength: 1, description: "azure: the api-version of /openai/deployments/<actualModelName>/… paths; without it, /openai/v1/…" }),
  ),
};

const PerMTok = t.Number({ minimum: 0, description: "US dollars per million tokens" });

const PriceSchema = t.Object(
  {
    inputPerMTok: PerMTok,
    outputPerMTok: PerMTok,
    cachedInputPerMTok: t.Optional(
      t.Number({ minimum: 0, description: "prompt tokens read from the backend's cache, US dollars per million; default inputPerMTok" }),
    ),
    cacheWriteInputPerMTok: t.Optional(
      t.Number({
        minimum: 0,
        description: "prompt tokens written to the backend's cache (Anthropic's cache_creation_input_tokens), US dollars per million; default inputPerMTok",
      }),
    ),
  },
  { additionalProperties: true, description: "what this backend's tokens cost, in US dollars per million tokens (a target's price wins over its endpoint's)" },
);

/**
 * A backend's key goes in a header the proxy writes: any character beyond ASCII (a pasted en-dash or
 * curly quote) makes every request to it fail, so it is refused here. Empty is a key-less backend;
 * surrounding whitespace (a secret file's final newline) is trimmed where it is sent.
 */
const BackendKey = () =>
  t.String({
    pattern: "^[\\t\\n\\r\\x20-\\x7e]*$",
    error: "expected ASCII characters only (a header cannot carry others: look for a pasted dash or quote)",
  });

const TargetSchema = t.Object(
  {
    url: t.Optional(HttpUrl),
    name: t.Optional(t.String({ minLength: 1, description: "shown in logs, headers and /health; default <model id>#<index>" })),
    apiKey: t.Optional(BackendKey()),
    actualModelName: t.Optional(t.String({ minLength: 1 })),
    timeouts: t.Optional(TimeoutsSchema),
    weight: t.Optional(t.Integer({ minimum: 1, description: "share of requests under the weighted strategy" })),
    streamUsage: t.Optional(t.Boolean()),
    price: t.Optional(PriceSchema),
    ...providerFields,
  },
  { additionalProperties: true },
);

const StatusCode = t.Integer({ minimum: 100, maximum: 599 });

const RetrySchema = t.Object(
  {
    attempts: t.Optional(t.Integer({ minimum: 1, maximum: 20, description: "tries in total, the first included" })),
    backoffMs: t.Optional(t.Integer({ minimum: 0, maximum: MAX_TIMER_MS })),
    maxBackoffMs: t.Optional(t.Integer({ minimum: 0, maximum: MAX_TIMER_MS })),
    retryOn: t.Optional(t.Array(StatusCode, { description: "backend statuses worth another try" })),
  },
  { additionalProperties: true },
);

const CooldownSchema = t.Object(
  {
    failures: t.Optional(t.Integer({ minimum: 1, description: "consecutive failures that take a target out" })),
    seconds: t.Optional(t.Number({ exclusiveMinimum: 0, maximum: MAX_TIMER_MS / 1000, description: "how long it stays out" })),
  },
  { additionalProperties: true },
);

const Strategy = t.Union([t.Literal("round-robin"), t.Literal("weighted"), t.Literal("least-busy"), t.Literal("latency")]);

const DiscoverSchema = t.Object(
  {
    prefix: t.Optional(t.String({ description: "put before each discovered id" })),
    include: t.Optional(t.Array(t.String(), { description: "globs of backend ids to offer; all when absent" })),
    exclude: t.Optional(t.Array(t.String(), { description: "globs of backend ids to leave out" })),
    refreshMs: t.Optional(t.Integer({ minimum: 1000, maximum: MAX_TIMER_MS })),
  },
  { additionalProperties: true },
);

const EndpointSchema = t.Object(
  {
    url: t.Optional(HttpUrl),
    displayName: t.Optional(t.String()),
    apiKey: t.Optional(BackendKey()),
    actualModelName: t.Optional(t.String({ minLength: 1 })),
    timeouts: t.Optional(TimeoutsSchema),
    targets: t.Optional(t.Array(TargetSchema, { minItems: 1 })),
    strategy: t.Optional(Strategy),
    retry: t.Optional(RetrySchema),
    cooldown: t.Optional(CooldownSchema),
    fallbacks: t.Optional(t.Array(t.String({ minLength: 1 }))),
    healthCheck: t.Optional(t.Object({ intervalMs: t.Integer({ minimum: 100, maximum: MAX_TIMER_MS }) }, { additionalProperties: true })),
    discover: t.Optional(DiscoverSchema),
    streamUsage: t.Optional(t.Boolean({ description: "ask this backend for stream usage (false for backends that reject stream_options)" })),
    price: t.Optional(PriceSchema),
    ...providerFields,
    aliases: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "further ids (exact or globs) that resolve to this model, not listed in /models" })),
  },
  { additionalProperties: true },
);

export const LimitSetSchema = t.Object(
  {
    rpm: t.Optional(t.Integer({ minimum: 1, description: "requests per minute (burst: the whole limit)" })),
    tpm: t.Optional(t.Integer({ minimum: 1, description: "tokens per minute, charged when the usage is known" })),
    concurrent: t.Optional(t.Integer({ minimum: 1, description: "requests in flight at once" })),
    tokensPerDay: t.Optional(t.Integer({ minimum: 1, description: "a daily token budget, reset at 00:00 UTC" })),
    usdPerDay: t.Optional(t.Number({ minimum: 0, description: "a daily budget in US dollars (a UTC day from 00:00); 0 admits nothing" })),
    usdPerMonth: t.Optional(t.Number({ minimum: 0, description: "a monthly budget in US dollars (a UTC month from the 1st); 0 admits nothing" })),
  },
  { additionalProperties: true },
);

const LimitsSchema = t.Object(
  {
    perClient: t.Optional(LimitSetSchema),
    perUser: t.Optional(LimitSetSchema),
    perModel: t.Optional(t.Record(t.String({ minLength: 1 }), LimitSetSchema)),
  },
  { additionalProperties: true },
);

const StateSchema = t.Object(
  {
    redis: t.Optional(
      t.String({
        pattern: "^rediss?://",
        error: "expected a redis:// or rediss:// URL",
        description: "limits, budgets, concurrency counts and target cool-downs kept in this Redis, shared by every instance (read at start)",
      }),
    ),
    failMode: t.Optional(
      t.Union([t.Literal("open"), t.Literal("closed")], {
        description: "while Redis is unreachable: open (default) lets requests through unlimited; closed answers model requests 503",
      }),
    ),
  },
  { additionalProperties: true },
);

/** A key clients send in a header: visible ASCII (a header carries bytes; other characters arrive as something else, and a browser refuses to send them). */
export const HEADER_SECRET = {
  minLength: 1,
  pattern: "^[\\x21-\\x7e]+$",
  error: "expected visible ASCII characters only (letters, digits, punctuation; no spaces or other characters, which a header cannot carry as typed)",
} as const;

const HEADER_SECRET_PATTERN = new RegExp(HEADER_SECRET.pattern);

/** Whether `value` is a key a header can carry: the schema's rule, for a key that comes from elsewhere. */
export const isHeaderSecret = (value: string): boolean => HEADER_SECRET_PATTERN.test(value);

const ClientKeySchema = t.Object(
  {
    key: t.String({ ...HEADER_SECRET, description: "the bearer key a client sends" }),
    name: t.Optional(t.String({ description: "shown in logs instead of the key" })),
    models: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "model ids or globs (ollama/*) this key may use; all when absent" })),
    limits: t.Optional(LimitSetSchema),
  },
  { additionalProperties: true },
);

const LogSchema = t.Object(
  {
    format: t.Optional(t.Union([t.Literal("text"), t.Literal("json")])),
    level: t.Optional(t.Union([t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error")])),
  },
  { additionalProperties: true },
);

const UsageSchema = t.Object(
  {
    enabled: t.Optional(t.Boolean()),
    path: t.Optional(t.String({ minLength: 1, description: "the SQLite file; relative to the config file's folder" })),
    retentionDays: t.Optional(t.Integer({ minimum: 1 })),
    users: t.Optional(t.Union([t.Literal("all"), t.Literal("none")])),
    streamUsage: t.Optional(t.Boolean()),
    queueSize: t.Optional(t.Integer({ minimum: 1, description: "usage rows held in memory before new ones are dropped" })),
    postgres: t.Optional(
      t.String({
        pattern: "^postgres(ql)?://",
        error: "expected a postgres:// or postgresql:// URL",
        description: "rows go to the table cm_proxy_usage of this PostgreSQL database, shared by every instance, instead of the SQLite file",
      }),
    ),
  },
  { additionalProperties: true },
);

/** A header name Open WebUI sends under `variable` when an operator renamed it there. */
const HeaderName = (variable: string, fallback: string) =>
  t.String({
    pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
    error: "expected a header name (letters, digits, and - _ . ! # $ % & ' * + ^ ` | ~; no spaces)",
    description: `the name set in Open WebUI's ${variable} (default ${fallback})`,
  });

const OpenWebUISchema = t.Object(
  {
    userJwtSecret: t.Optional(
      t.String({
        minLength: 1,
        description:
          "Open WebUI's FORWARD_USER_INFO_HEADER_JWT_SECRET: the user then comes only from a valid X-OpenWebUI-User-Jwt, never from plain X-OpenWebUI-User-* headers",
      }),
    ),
    requireUser: t.Optional(t.Boolean({ description: "answer model requests without a valid user token 401 (needs userJwtSecret)" })),
    headers: t.Optional(
      t.Object(
        {
          id: t.Optional(HeaderName("FORWARD_USER_INFO_HEADER_USER_ID", "X-OpenWebUI-User-Id")),
          email: t.Optional(HeaderName("FORWARD_USER_INFO_HEADER_USER_EMAIL", "X-OpenWebUI-User-Email")),
          name: t.Optional(HeaderName("FORWARD_USER_INFO_HEADER_USER_NAME", "X-OpenWebUI-User-Name")),
          role: t.Optional(HeaderName("FORWARD_USER_INFO_HEADER_USER_ROLE", "X-OpenWebUI-User-Role")),
          chatId: t.Optional(HeaderName("FORWARD_SESSION_INFO_HEADER_CHAT_ID", "X-OpenWebUI-Chat-Id")),
          messageId: t.Optional(HeaderName("FORWARD_SESSION_INFO_HEADER_MESSAGE_ID", "X-OpenWebUI-Message-Id")),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

const PricesSchema = t.Object(
  {
    builtIn: t.Optional(
      t.Boolean({ description: "price a model no price is configured for from the table built into the binary, by its backend model name (default true)" }),
    ),
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
    adminKey: t.Optional(t.String(HEADER_SECRET)),
    drainTimeoutMs: t.Optional(t.Integer({ minimum: 0, maximum: MAX_TIMER_MS, description: "milliseconds" })),
    maxInFlight: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: MAX_IN_FLIGHT_LIMIT,
        description: `backend requests in flight per process (Bun's BUN_CONFIG_MAX_HTTP_REQUESTS, set at start); default ${DEFAULT_MAX_IN_FLIGHT}`,
      }),
    ),
    retry: t.Optional(RetrySchema),
    cooldown: t.Optional(CooldownSchema),
    log: t.Optional(LogSchema),
    limits: t.Optional(LimitsSchema),
    metrics: t.Optional(t.Object({ enabled: t.Optional(t.Boolean()) }, { additionalProperties: true })),
    state: t.Optional(StateSchema),
    usage: t.Optional(UsageSchema),
    openWebUI: t.Optional(OpenWebUISchema),
    prices: t.Optional(PricesSchema),
  },
  { additionalProperties: true },
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type EndpointFile = Static<typeof EndpointSchema>;
export type TargetFile = Static<typeof TargetSchema>;
/** Top-level `retry` and `cooldown`: defaults for every endpoint. */
export type PolicyDefaults = Pick<ConfigFile, "retry" | "cooldown">;
export type LogSettings = Static<typeof LogSchema>;
export type StateSettings = Static<typeof StateSchema>;
export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 };
export const DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
