import type { ClientKey, ClientKeys } from "../access/clients";
import { digest } from "../access/secret";
import { maskAccessKey, maskBackendKey, maskUrlCredentials } from "./mask";
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUTS,
  type ConfigFile,
  type EndpointFile,
  type Timeouts,
} from "./schema";
import { upstreamPrefix } from "./url";

/** One configured model, resolved into what the hot path needs. */
export interface Target {
  readonly id: string;
  readonly displayName: string;
  readonly actualModelName: string;
  /** `<url>/v1/`: every upstream path is appended to it. */
  readonly prefix: string;
  /** `Bearer <apiKey>`, or null when the backend takes no key. */
  readonly authorization: string | null;
  readonly timeouts: Timeouts;
}

/**
 * An immutable snapshot of a loaded config file. A reload builds a new one and swaps it in whole,
 * so a request that captured a snapshot finishes on it. Response bodies that never change between
 * reloads are rendered once here, off the hot path.
 */
export interface ProxyConfig {
  readonly file: string;
  readonly targets: ReadonlyMap<string, Target>;
  readonly modelIds: readonly string[];
  readonly maxBodyBytes: number;
  readonly drainTimeoutMs: number;
  readonly forwardUserInfoHeaders: boolean;
  readonly clients: ClientKeys;
  readonly adminDigest: Uint8Array | null;
  readonly modelsJson: string;
  readonly modelJson: ReadonlyMap<string, string>;
  readonly healthJson: string;
  readonly debugView: Readonly<Record<string, unknown>>;
}

interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  name: string;
}

const OWNER = "cm-open-webui-proxy";

const modelList = (data: ModelEntry[]) => JSON.stringify({ object: "list", data });

function resolveTarget(id: string, endpoint: EndpointFile, defaults: Timeouts): Target {
  const apiKey = endpoint.apiKey ?? "";
  return {
    id,
    displayName: endpoint.displayName ?? id,
    actualModelName: endpoint.actualModelName ?? id,
    prefix: upstreamPrefix(endpoint.url),
    authorization: apiKey ? `Bearer ${apiKey}` : null,
    timeouts: { ...defaults, ...endpoint.timeouts },
  };
}

function resolveClients(file: ConfigFile, models: ModelEntry[]): ClientKeys {
  const keys = (file.clientKeys ?? []).map((client, i): ClientKey => {
    const allowed = client.models ? new Set(client.models) : null;
    const visible = allowed ? models.filter((model) => allowed.has(model.id)) : models;
    return {
      name: client.name ?? `clientKeys[${i}]`,
      digest: digest(client.key),
      models: allowed,
      modelsJson: modelList(visible),
      visibleIds: visible.map((model) => model.id),
    };
  });
  return { keys, digests: keys.map((key) => key.digest) };
}

/**
 * The config as `/debug` shows it: every secret masked, each endpoint with the display name and
 * backend model name in effect, and the file's path under the original proxy's name too. The path
 * comes last so a field of the file cannot stand in for it.
 */
function maskedView(file: ConfigFile, path: string, targets: ReadonlyMap<string, Target>): Record<string, unknown> {
  const endpoints = Object.fromEntries(
    Object.entries(file.endpoints).map(([id, endpoint]) => {
      const { displayName, actualModelName } = targets.get(id)!;
      const apiKey = endpoint.apiKey ? maskBackendKey(endpoint.apiKey) : "";
      return [id, { ...endpoint, displayName, actualModelName, url: maskUrlCredentials(endpoint.url), apiKey }];
    }),
  );
  return {
    ...file,
    endpoints,
    ...(file.clientKeys && { clientKeys: file.clientKeys.map((client) => ({ ...client, key: maskAccessKey(client.key) })) }),
    ...(file.adminKey && { adminKey: maskAccessKey(file.adminKey) }),
    configFile: path,
    config_file_location: path,
  };
}

export function buildProxyConfig(file: ConfigFile, path: string, createdAt = Math.floor(Date.now() / 1000)): ProxyConfig {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...file.timeouts };
  const targets = new Map<string, Target>();
  for (const [id, endpoint] of Object.entries(file.endpoints)) targets.set(id, resolveTarget(id, endpoint, timeouts));

  const models = [...targets.values()].map((target): ModelEntry => ({
    id: target.id,
    object: "model",
    created: createdAt,
    owned_by: OWNER,
    name: target.displayName,
  }));
  return {
    file: path,
    targets,
    modelIds: [...targets.keys()],
    maxBodyBytes: file.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    drainTimeoutMs: file.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    forwardUserInfoHeaders: file.forwardUserInfoHeaders ?? false,
    clients: resolveClients(file, models),
    adminDigest: file.adminKey ? digest(file.adminKey) : null,
    modelsJson: modelList(models),
    modelJson: new Map(models.map((model) => [model.id, JSON.stringify(model)])),
    healthJson: JSON.stringify({
      status: "ok",
      endpoints: targets.size,
      models: models.map((model) => ({ id: model.id, displayName: model.name })),
    }),
    debugView: maskedView(file, path, targets),
  };
}
