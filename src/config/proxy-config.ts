import type { ClientKey, ClientKeys } from "../access/clients";
import { OPENWEBUI_HEADERS, userInfoForwarding, type OpenWebUIHeaderNames, type UserInfoForwarding } from "../access/openwebui-headers";
import { UserTokenVerifier } from "../access/openwebui-jwt";
import { digest } from "../access/secret";
import { maskAccessKey, maskBackendKey, maskUrlCredentials } from "./mask";
import { IdMatcher } from "../model/glob";
import type { DiscoverySource, Model } from "../model/model";
import { modelFromEndpoint, sourceFromEndpoint } from "./models";
import { budgetWarnings, configWarnings } from "./validate";
import { dirname, resolve } from "node:path";
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUTS,
  type ConfigFile,
  type EndpointFile,
  type LogSettings,
  type StateSettings,
} from "./schema";
import type { LimitSet } from "../model/limits";
import { BUILT_IN_PRICES, type PriceTable } from "../pricing/price-table";

/**
 * An immutable snapshot of a loaded config file. A reload builds a new one and swaps it in whole,
 * so a request that captured a snapshot finishes on it.
 */
export interface ProxyConfig {
  readonly file: string;
  /** When the file was loaded: the `created` of every model in `/models`. */
  readonly createdAt: number;
  /** The configured models; discovered ones join them in the catalog. */
  readonly models: ReadonlyMap<string, Model>;
  readonly sources: readonly DiscoverySource[];
  readonly maxBodyBytes: number;
  readonly drainTimeoutMs: number;
  readonly forwardUserInfoHeaders: boolean;
  readonly clients: ClientKeys;
  readonly adminDigest: Uint8Array | null;
  readonly debugView: Readonly<Record<string, unknown>>;
  readonly usage: UsageSettings;
  readonly log: LogSettings;
  readonly limits: LimitSettings;
  readonly state: StateSettings;
  /** Whether requests feed the Prometheus metrics (`metrics.enabled`, default true). */
  readonly metricsEnabled: boolean;
  readonly openWebUI: OpenWebUISettings;
  /** The built-in price table models with no configured price are priced from; null when `prices.builtIn` is false. */
  readonly priceTable: PriceTable | null;
  /** What `--check-config` and the start-up log warn about: valid, yet likely a mistake. */
  readonly warnings: readonly string[];
}

/** How Open WebUI's user is known: from its signed token when a secret is set, else from its plain headers. */
export interface OpenWebUISettings {
  /** Checks `X-OpenWebUI-User-Jwt` (`openWebUI.userJwtSecret`); null: the plain headers name the user. */
  readonly userToken: UserTokenVerifier | null;
  /** Model requests without a valid token are refused (401). */
  readonly requireUser: boolean;
  /** The names its plain user and session headers come under (`openWebUI.headers`, else its defaults). */
  readonly headers: OpenWebUIHeaderNames;
  /** Which of them reach a backend (`forwardUserInfoHeaders`, less the plain user ones when the user comes signed). */
  readonly forwarding: UserInfoForwarding;
}

/** The configured limits; `any` is false when none is set, so requests skip the limiter (unless an issued key has limits of its own). */
export interface LimitSettings {
  readonly any: boolean;
  readonly perClient?: LimitSet;
  readonly perUser?: LimitSet;
  readonly perModel: Readonly<Record<string, LimitSet>>;
}

function resolveLimits(file: ConfigFile): LimitSettings {
  const limits = file.limits ?? {};
  const perModel = limits.perModel ?? {};
  // perClient also applies to keys issued at runtime, which the file does not list.
  const perClientUsed = limits.perClient !== undefined || (file.clientKeys ?? []).some((client) => client.limits);
  return {
    any: perClientUsed || limits.perUser !== undefined || Object.keys(perModel).length > 0,
    perClient: limits.perClient,
    perUser: limits.perUser,
    perModel,
  };
}

/** Token usage accounting, resolved. */
export interface UsageSettings {
  readonly enabled: boolean;
  /** The SQLite file, absolute. */
  readonly path: string;
  readonly retentionDays: number;
  /** Whether rows name Open WebUI's user (`users: "none"` records none). */
  readonly recordUsers: boolean;
  /** Whether the proxy may ask backends for stream usage (each endpoint may still refuse it). */
  readonly streamUsage: boolean;
  readonly queueSize: number;
  /** `usage.postgres`: rows go to this PostgreSQL database (table cm_proxy_usage) instead of the SQLite file; null when unset. */
  readonly postgres: string | null;
}

const DEFAULT_RETENTION_DAYS = 90;
const DEFAULT_USAGE_QUEUE = 100_000;

function resolveUsage(file: ConfigFile, configPath: string): UsageSettings {
  const usage = file.usage ?? {};
  return {
    enabled: usage.enabled ?? true,
    path: resolve(dirname(configPath), usage.path ?? "usage.db"),
    retentionDays: usage.retentionDays ?? DEFAULT_RETENTION_DAYS,
    recordUsers: usage.users !== "none",
    streamUsage: usage.streamUsage ?? true,
    queueSize: usage.queueSize ?? DEFAULT_USAGE_QUEUE,
    postgres: usage.postgres ?? null,
  };
}

function resolveClients(file: ConfigFile): ClientKeys {
  const keys = (file.clientKeys ?? []).map(
    (client, i): ClientKey => ({
      name: client.name ?? `clientKeys[${i}]`,
      digest: digest(client.key),
      models: client.models ? new IdMatcher(client.models) : null,
      limits: client.limits,
    }),
  );
  return { keys, digests: keys.map((key) => key.digest) };
}

/** A PostgreSQL URL's password hides in its user info or in a `password` parameter. */
const maskPostgresUrl = (url: string) => maskUrlCredentials(url).replace(/([?&](?:password|sslpassword)=)[^&#]*/gi, "$1***");

const maskTarget = <T extends { url?: string; apiKey?: string }>(target: T) => ({
  ...target,
  ...(target.url !== undefined && { url: maskUrlCredentials(target.url) }),
  ...(target.apiKey !== undefined && { apiKey: target.apiKey ? maskBackendKey(target.apiKey) : "" }),
});

/**
 * The config as `/debug` shows it: every secret masked, each endpoint with the display name and
 * backend model name in effect, and the file's path under the original proxy's name too. The path
 * comes last so a field of the file cannot stand in for it.
 */
function maskedView(file: ConfigFile, path: string, models: ReadonlyMap<string, Model>): Record<string, unknown> {
  const endpoints = Object.fromEntries(
    Object.entries(file.endpoints).map(([id, endpoint]) => {
      const model = models.get(id);
      const masked = {
        ...endpoint,
        ...(model && { displayName: model.displayName, actualModelName: endpoint.actualModelName ?? model.targets[0]!.actualModelName }),
        apiKey: endpoint.apiKey ? maskBackendKey(endpoint.apiKey) : "",
        ...(endpoint.url !== undefined && { url: maskUrlCredentials(endpoint.url) }),
        ...(endpoint.targets && { targets: endpoint.targets.map(maskTarget) }),
      };
      return [id, masked];
    }),
  );
  return {
    ...file,
    endpoints,
    ...(file.clientKeys && { clientKeys: file.clientKeys.map((client) => ({ ...client, key: maskAccessKey(client.key) })) }),
    ...(file.adminKey && { adminKey: maskAccessKey(file.adminKey) }),
    ...(file.usage?.postgres && { usage: { ...file.usage, postgres: maskPostgresUrl(file.usage.postgres) } }),
    ...(file.state?.redis && { state: { ...file.state, redis: maskUrlCredentials(file.state.redis) } }),
    ...(file.openWebUI?.userJwtSecret && { openWebUI: { ...file.openWebUI, userJwtSecret: maskAccessKey(file.openWebUI.userJwtSecret) } }),
    configFile: path,
    config_file_location: path,
  };
}

function resolveOpenWebUI(file: ConfigFile): OpenWebUISettings {
  const secret = file.openWebUI?.userJwtSecret;
  const renamed = file.openWebUI?.headers ?? {};
  const headers = Object.fromEntries(
    Object.entries(OPENWEBUI_HEADERS).map(([field, name]) => [field, (renamed[field as keyof OpenWebUIHeaderNames] ?? name).toLowerCase()]),
  ) as unknown as OpenWebUIHeaderNames;
  return {
    userToken: secret ? new UserTokenVerifier(secret) : null,
    requireUser: file.openWebUI?.requireUser ?? false,
    headers,
    forwarding: userInfoForwarding(file.forwardUserInfoHeaders ?? false, Boolean(secret), headers),
  };
}

export function buildProxyConfig(file: ConfigFile, path: string, createdAt = Math.floor(Date.now() / 1000)): ProxyConfig {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...file.timeouts };
  const priceTable = (file.prices?.builtIn ?? true) ? BUILT_IN_PRICES : null;
  const models = new Map<string, Model>();
  const sources: DiscoverySource[] = [];
  for (const [id, endpoint] of Object.entries(file.endpoints)) {
    const model = modelFromEndpoint(id, endpoint, { policy: file, timeouts, priceTable });
    if (endpoint.discover) sources.push(sourceFromEndpoint(id, endpoint, model));
    else models.set(id, model);
  }
  return {
    file: path,
    createdAt,
    models,
    sources,
    maxBodyBytes: file.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    drainTimeoutMs: file.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    forwardUserInfoHeaders: file.forwardUserInfoHeaders ?? false,
    clients: resolveClients(file),
    adminDigest: file.adminKey ? digest(file.adminKey) : null,
    debugView: maskedView(file, path, models),
    usage: resolveUsage(file, path),
    log: file.log ?? {},
    limits: resolveLimits(file),
    state: file.state ?? {},
    metricsEnabled: file.metrics?.enabled ?? true,
    openWebUI: resolveOpenWebUI(file),
    priceTable,
    warnings: [...configWarnings(file), ...budgetWarnings(file, models)],
  };
}
