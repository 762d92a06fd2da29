import { Elysia, t } from "elysia";
import type { ClientKey } from "../access/clients";
import { LimitSetSchema } from "../config/schema";
import type { IssuedKeys } from "../keys/issued-keys";
import { isKeyId, statusAt, type KeyChanges, type KeyRow, type KeyStatus } from "../keys/key-row";
import { DuplicateKeyName, KeyStoreUnavailable } from "../keys/key-table";
import { jsonResponse } from "../lib/json-response";
import { invalidRequest, ProxyError } from "../model/errors";
import { adminGuard } from "./admin-guard";
import type { RouteContext } from "./context";
import { keySpend, type Spend, type SpendOf, type SpendSubject } from "./key-spend";

/** A config-file key's id in the list: it has no id of its own, and its name is unique in the file. */
const CONFIG_ID_PREFIX = "config:";
const MAX_NAME = 100;
const MAX_METADATA_CHARS = 8192;
const MAX_GRACE_SECONDS = 30 * 24 * 3600;

const keysOff = () =>
  new ProxyError(
    503,
    "Keys issued at runtime are kept in the usage database, and usage accounting is off (usage.enabled is false in the configuration)",
    "api_error",
    "usage_disabled",
  );
const unknownKey = (id: string) => new ProxyError(404, `No key has the id '${id.slice(0, 100)}'`, "invalid_request_error", "key_not_found", "id");
const nameTaken = (name: string) =>
  new ProxyError(
    409,
    `A key named '${name}' exists already (names are unique among the keys that are not revoked, config-file keys included)`,
    "invalid_request_error",
    "key_name_taken",
    "name",
  );
const readOnly = (name: string) =>
  new ProxyError(409, `The key '${name}' comes from the config file (clientKeys): change it there`, "invalid_request_error", "config_key_read_only", "id");
const revoked = (id: string) =>
  new ProxyError(409, `The key '${id}' is revoked; a revoked key cannot be changed`, "invalid_request_error", "key_revoked", "id");
const rotatedMeanwhile = (id: string) =>
  new ProxyError(
    409,
    `The key '${id}' was rotated by another request meanwhile; nothing was changed (read it, then rotate again if still needed)`,
    "invalid_request_error",
    "key_changed",
    "id",
  );
const storeDown = (reason: string) =>
  new ProxyError(503, `The key store cannot be reached right now (${reason}); try again shortly`, "api_error", "keys_store_unavailable");

/** A table call, its failures in OpenAI's shape. */
async function stored<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DuplicateKeyName) throw nameTaken(error.keyName);
    if (error instanceof KeyStoreUnavailable) throw storeDown(error.reason);
    throw error;
  }
}

/** The key API's own limits: the config's LimitSet fields, and no others (a misspelt one would limit nothing). */
const KeyLimits = t.Object(LimitSetSchema.properties, { additionalProperties: false, description: "the config's LimitSet fields; {} clears them" });
/** No limits of its own is stored as null, however it was said. */
const limitsOf = (limits: Record<string, unknown> | undefined) => (limits === undefined ? undefined : Object.keys(limits).length > 0 ? limits : null);
const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(schema: T) => t.Union([schema, t.Null()]);

const editable = {
  models: t.Optional(Nullable(t.Array(t.String({ minLength: 1 }), { description: "model ids or globs (ollama/*) this key may use; null: all" }))),
  // Not nullable, so an error names the very field (`limits.rpm`); `{}` clears them.
  limits: t.Optional(KeyLimits),
  expiresAt: t.Optional(Nullable(t.String({ description: "ISO 8601 date-time, in the future; null: never" }))),
  metadata: t.Optional(Nullable(t.Record(t.String(), t.Any(), { description: "your own data, kept with the key (at most 8 KiB of JSON)" }))),
};

const CreateKey = t.Object({ name: t.String({ minLength: 1, maxLength: MAX_NAME }), ...editable }, { additionalProperties: false });
const ChangeKey = t.Object(
  {
    name: t.Optional(t.String({ minLength: 1, maxLength: MAX_NAME })),
    status: t.Optional(t.Union([t.Literal("active"), t.Literal("blocked")])),
    ...editable,
  },
  { additionalProperties: false },
);
const Rotate = t.Optional(t.Object({ graceSeconds: t.Optional(t.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS })) }, { additionalProperties: false }));

const DateTime = t.String({ format: "date-time" });
const KeyView = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: Nullable(t.String({ description: "the secret's first characters (null for a config-file key)" })),
  models: Nullable(t.Array(t.String())),
  limits: Nullable(t.Record(t.String(), t.Number())),
  metadata: Nullable(t.Record(t.String(), t.Any())),
  status: t.Union([t.Literal("active"), t.Literal("blocked"), t.Literal("expired"), t.Literal("revoked")]),
  source: t.Union([t.Literal("api"), t.Literal("config")]),
  expiresAt: Nullable(DateTime),
  createdAt: Nullable(DateTime),
  lastUsedAt: Nullable(DateTime),
  previousKeyValidUntil: Nullable(DateTime),
  spendTodayUsd: Nullable(t.Number({ description: "since 00:00 UTC; null when unknown (usage store unreachable)" })),
  spendMonthUsd: Nullable(t.Number({ description: "since the 1st, 00:00 UTC" })),
});
const NewKeyView = t.Object({ ...KeyView.properties, key: t.String({ description: "the secret: shown this once, never again" }) });

/** Views go out as JSON the proxy writes itself (sized for the access log). */
const answer = (view: object, status = 200) => jsonResponse(JSON.stringify(view), status);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function issuedView(row: KeyRow, now: number, spend: Spend) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    models: row.models,
    limits: row.limits,
    metadata: row.metadata,
    status: statusAt(row, now),
    source: "api" as const,
    expiresAt: iso(row.expiresAt),
    createdAt: iso(row.createdAt),
    lastUsedAt: iso(row.lastUsedAt),
    previousKeyValidUntil: row.previousUntil !== null && row.previousUntil > now ? iso(row.previousUntil) : null,
    spendTodayUsd: spend.todayUsd,
    spendMonthUsd: spend.monthUsd,
  };
}

function configView(client: ClientKey, spend: Spend) {
  return {
    id: CONFIG_ID_PREFIX + client.name,
    name: client.name,
    prefix: null,
    models: client.models ? [...client.models.patterns] : null,
    limits: client.limits ?? null,
    metadata: null,
    status: "active" as KeyStatus,
    source: "config" as const,
    expiresAt: null,
    createdAt: null,
    lastUsedAt: null,
    previousKeyValidUntil: null,
    spendTodayUsd: spend.todayUsd,
    spendMonthUsd: spend.monthUsd,
  };
}

/**
 * An ISO 8601 date-time with its offset: without one, Date.parse reads it in the server's time zone.
 * Its date is checked apart, since Date.parse carries a 31st of February over into March.
 */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

const isCalendarDate = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;

/** `expiresAt` as ms, checked: a date-time in the future, or null. */
function expiryOf(value: string | null | undefined, now: number): number | null | undefined {
  if (value === undefined || value === null) return value;
  const at = Date.parse(value);
  const date = DATE_TIME.exec(value);
  if (!Number.isFinite(at) || !date || !isCalendarDate(Number(date[1]), Number(date[2]), Number(date[3])))
    throw invalidRequest(
      `'expiresAt' must be an ISO 8601 date-time with its offset (Z or ±hh:mm), such as 2030-01-31T00:00:00Z, not '${value.slice(0, 60)}'`,
      "expiresAt",
      "invalid_value",
    );
  if (at <= now) throw invalidRequest("'expiresAt' must be in the future (to stop a key now, block or revoke it)", "expiresAt", "invalid_value");
  return at;
}

function checkMetadata(metadata: unknown): void {
  if (metadata && JSON.stringify(metadata).length > MAX_METADATA_CHARS)
    throw invalidRequest(`'metadata' may hold at most ${MAX_METADATA_CHARS} characters of JSON`, "metadata", "invalid_value");
}

/** Control characters, and halves of a character (a lone surrogate, which no UTF-8 text can hold). */
const UNPRINTABLE = /\p{Cc}|\p{Cs}/u;

/**
 * A name for a key: trimmed, printable, and none a config-file key has. A name is shown in logs,
 * lists and 429 messages; PostgreSQL refuses a NUL in text, and a line break would split a log line.
 */
function nameOf(name: string, configKeys: readonly ClientKey[]): string {
  const trimmed = name.trim();
  if (trimmed === "") throw invalidRequest("'name' must not be blank", "name", "invalid_value");
  if (UNPRINTABLE.test(trimmed))
    throw invalidRequest("'name' must be printable text: no line breaks, tabs, NUL or other control characters", "name", "invalid_value");
  if (configKeys.some((client) => client.name === trimmed)) throw nameTaken(trimmed);
  return trimmed;
}

/**
 * `/admin/keys`: client keys issued at runtime (create, list, show, change, revoke, rotate), with
 * the config file's keys listed read-only beside them. Needs the admin key (or, with none, a
 * loopback client). A secret is in the answer that made it and nowhere else.
 */
export const keyRoutes = (context: RouteContext, prefix: string) => {
  const { configs, keys, clientAddress } = context;
  const spendOf: SpendOf = keySpend(context);
  const issued = (): IssuedKeys => {
    if (!keys) throw keysOff();
    return keys;
  };
  const configKey = (id: string) => {
    if (!id.startsWith(CONFIG_ID_PREFIX)) return null;
    return configs.current.clients.keys.find((client) => client.name === id.slice(CONFIG_ID_PREFIX.length)) ?? null;
  };
  /**
   * The issued key with this id: 404 for none; for a config-file key, 404 to a read and 409 to a
   * change or revocation; 409 to a change of a revoked key (revoking it again answers it as it is).
   */
  const existing = async (id: string, use: "read" | "change" | "revoke"): Promise<KeyRow> => {
    const store = issued();
    const client = configKey(id);
    if (client) throw use === "read" ? unknownKey(id) : readOnly(client.name);
    // Not asked of the table: PostgreSQL refuses some text outright (a NUL), which would be a 500.
    if (!isKeyId(id)) throw unknownKey(id);
    const row = await stored(() => store.get(id));
    if (!row) throw unknownKey(id);
    if (use === "change" && row.status === "revoked") throw revoked(id);
    return row;
  };
  /** Why a change found no key to change: it was revoked meanwhile (409), or is gone (404). */
  const unchanged = async (id: string): Promise<ProxyError> => {
    await existing(id, "change");
    return unknownKey(id);
  };
  /** An issued key as the API shows it, with its spend today and this month. */
  const viewOf = async (row: KeyRow, now: number) => {
    const [spend] = await spendOf([{ id: row.id, name: row.name }], now);
    return issuedView(row, now, spend!);
  };
  const tag = { tags: ["Keys"], hide: prefix !== "" };

  return new Elysia({ name: "keys", seed: prefix, prefix })
    .use(adminGuard(configs, clientAddress))
    .post(
      "/admin/keys",
      async ({ body }) => {
        const store = issued();
        const now = Date.now();
        const name = nameOf(body.name, configs.current.clients.keys);
        checkMetadata(body.metadata);
        const expiresAt = expiryOf(body.expiresAt, now);
        const { row, secret } = await stored(() =>
          store.create({ name, models: body.models, limits: limitsOf(body.limits), expiresAt, metadata: body.metadata as KeyRow["metadata"] }),
        );
        return answer({ ...issuedView(row, now, { todayUsd: 0, monthUsd: 0 }), key: secret }, 201);
      },
      {
        admin: true,
        adminJson: true,
        body: CreateKey,
        response: { 201: NewKeyView },
        detail: { summary: "Issue a client key: the answer holds its secret, shown this once", ...tag },
      },
    )
    .get(
      "/admin/keys",
      async () => {
        const store = issued();
        const now = Date.now();
        const rows = await stored(() => store.list());
        const configKeys = configs.current.clients.keys;
        const subjects: SpendSubject[] = [
          ...rows.map((row) => ({ id: row.id, name: row.name })),
          ...configKeys.map((client) => ({ id: null, name: client.name })),
        ];
        const spend = await spendOf(subjects, now);
        const data = [...configKeys.map((client, i) => configView(client, spend[rows.length + i]!)), ...rows.map((row, i) => issuedView(row, now, spend[i]!))];
        return jsonResponse(JSON.stringify({ data }));
      },
      {
        admin: true,
        response: t.Object({ data: t.Array(KeyView) }),
        detail: { summary: "Every client key (config-file ones read-only), with status, last use and spend today and this month; never a secret", ...tag },
      },
    )
    .get(
      "/admin/keys/:id",
      async ({ params: { id } }) => {
        const now = Date.now();
        const client = configKey(id);
        if (client) {
          issued();
          const [spend] = await spendOf([{ id: null, name: client.name }], now);
          return answer(configView(client, spend!));
        }
        const row = await existing(id, "read");
        return answer(await viewOf(row, now));
      },
      { admin: true, params: t.Object({ id: t.String() }), response: KeyView, detail: { summary: "One client key, without its secret", ...tag } },
    )
    .patch(
      "/admin/keys/:id",
      async ({ params: { id }, body }) => {
        const store = issued();
        const now = Date.now();
        await existing(id, "change");
        checkMetadata(body.metadata);
        const changes: KeyChanges = {
          ...(body.name !== undefined && { name: nameOf(body.name, configs.current.clients.keys) }),
          ...(body.models !== undefined && { models: body.models }),
          ...(body.limits !== undefined && { limits: limitsOf(body.limits) }),
          ...(body.metadata !== undefined && { metadata: body.metadata as KeyRow["metadata"] }),
          ...(body.status !== undefined && { status: body.status }),
          ...(body.expiresAt !== undefined && { expiresAt: expiryOf(body.expiresAt, now) }),
        };
        const row = await stored(() => store.change(id, changes));
        if (!row) throw await unchanged(id);
        return answer(await viewOf(row, now));
      },
      {
        admin: true,
        params: t.Object({ id: t.String() }),
        adminJson: true,
        body: ChangeKey,
        response: KeyView,
        detail: { summary: "Change a key's name, models, limits, expiry, metadata, or block (status: blocked) and unblock (active) it", ...tag },
      },
    )
    .delete(
      "/admin/keys/:id",
      async ({ params: { id } }) => {
        const store = issued();
        const now = Date.now();
        const current = await existing(id, "revoke");
        const row =
          current.status === "revoked"
            ? current
            : ((await stored(() => store.change(id, { status: "revoked", previousDigest: null, previousUntil: null }))) ?? (await existing(id, "read")));
        return answer(await viewOf(row, now));
      },
      {
        admin: true,
        params: t.Object({ id: t.String() }),
        response: KeyView,
        detail: { summary: "Revoke a key: refused from now on, on every instance; its usage rows stay", ...tag },
      },
    )
    .post(
      "/admin/keys/:id/rotate",
      async ({ params: { id }, body }) => {
        const store = issued();
        const now = Date.now();
        const current = await existing(id, "change");
        const rotated = await stored(() => store.rotate(id, current, (body?.graceSeconds ?? 0) * 1000));
        if (!rotated) {
          await existing(id, "change"); // gone (404) or revoked (409) meanwhile
          throw rotatedMeanwhile(id);
        }
        return answer({ ...(await viewOf(rotated.row, now)), key: rotated.secret });
      },
      {
        admin: true,
        params: t.Object({ id: t.String() }),
        adminJson: true,
        body: Rotate,
        response: NewKeyView,
        detail: { summary: "A new secret for a key (shown this once); the former one keeps working for graceSeconds (default 0)", ...tag },
      },
    );
};
