import { maskSecret } from "./mask";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUTS, type ConfigFile, type EndpointFile, type Timeouts } from "./schema";
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
  readonly forwardUserInfoHeaders: boolean;
  readonly modelsJson: string;
  readonly modelJson: ReadonlyMap<string, string>;
  readonly healthJson: string;
  readonly debugView: Readonly<Record<string, unknown>>;
}

const OWNER = "cm-open-webui-proxy";

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

function maskedView(file: ConfigFile, path: string): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {};
  for (const [id, endpoint] of Object.entries(file.endpoints)) {
    endpoints[id] = { ...endpoint, apiKey: endpoint.apiKey ? maskSecret(endpoint.apiKey) : "" };
  }
  return { configFile: path, ...file, endpoints };
}

export function buildProxyConfig(file: ConfigFile, path: string, createdAt = Math.floor(Date.now() / 1000)): ProxyConfig {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...file.timeouts };
  const targets = new Map<string, Target>();
  for (const [id, endpoint] of Object.entries(file.endpoints)) targets.set(id, resolveTarget(id, endpoint, timeouts));

  const models = [...targets.values()].map((target) => ({
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
    forwardUserInfoHeaders: file.forwardUserInfoHeaders ?? false,
    modelsJson: JSON.stringify({ object: "list", data: models }),
    modelJson: new Map(models.map((model) => [model.id, JSON.stringify(model)])),
    healthJson: JSON.stringify({
      status: "ok",
      endpoints: targets.size,
      models: models.map((model) => ({ id: model.id, displayName: model.name })),
    }),
    debugView: maskedView(file, path),
  };
}
