import { IdMatcher } from "../model/glob";
import { stateKeyOf, type CooldownPolicy, type DiscoverySource, type Model, type ProviderKind, type RetryPolicy, type Target } from "../model/model";
import type { Timeouts } from "../model/model";
import type { PriceTable } from "../pricing/price-table";
import { resolvePrice, type ConfiguredPrice } from "../pricing/resolve";
import type { EndpointFile, PolicyDefaults } from "./schema";
import { DEFAULT_URLS, providerPrefix } from "./url";

export const DEFAULT_RETRY_ON = [408, 429, 500, 502, 503, 504] as const;
const DEFAULT_BACKOFF_MS = 200;
const DEFAULT_MAX_BACKOFF_MS = 5_000;
export const DEFAULT_COOLDOWN = { failures: 3, seconds: 30 } as const;
/** anthropic: the `max_tokens` sent when the client gave none (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096;

/** The parts of an endpoint a target inherits unless it sets them. */
interface Inherited {
  readonly apiKey?: string;
  readonly actualModelName?: string;
  readonly timeouts?: Partial<Timeouts>;
  readonly streamUsage?: boolean;
  readonly provider?: ProviderKind;
  readonly maxTokens?: number;
  readonly apiVersion?: string;
  readonly price?: ConfiguredPrice;
}

interface TargetSource extends Inherited {
  readonly name?: string;
  /** Left out only for a provider with a public default (validate.ts checks). */
  readonly url?: string;
  readonly weight?: number;
}

/** What resolving an endpoint needs besides the endpoint: the top-level defaults, and the built-in price table (null when `prices.builtIn` is false). */
export interface EndpointDefaults {
  readonly policy: PolicyDefaults;
  readonly timeouts: Timeouts;
  readonly priceTable: PriceTable | null;
}

function resolveTarget(modelId: string, source: TargetSource, index: number, endpoint: Inherited, defaults: EndpointDefaults): Target {
  const name = source.name ?? `${modelId}#${index}`;
  const apiKey = source.apiKey ?? endpoint.apiKey ?? "";
  const provider = source.provider ?? endpoint.provider ?? "openai";
  const url = source.url ?? DEFAULT_URLS[provider] ?? "";
  const actualModelName = source.actualModelName ?? endpoint.actualModelName ?? modelId;
  return {
    name,
    modelId,
    stateKey: stateKeyOf(modelId, name),
    url,
    prefix: providerPrefix(provider, url),
    provider,
    authorization: apiKey && provider === "openai" ? `Bearer ${apiKey}` : null,
    apiKey: apiKey || null,
    maxTokens: source.maxTokens ?? endpoint.maxTokens ?? DEFAULT_MAX_TOKENS,
    apiVersion: source.apiVersion ?? endpoint.apiVersion ?? null,
    actualModelName,
    timeouts: { ...defaults.timeouts, ...endpoint.timeouts, ...source.timeouts },
    weight: source.weight ?? 1,
    streamUsage: source.streamUsage ?? endpoint.streamUsage ?? true,
    price: resolvePrice(source.price ?? endpoint.price, actualModelName, defaults.priceTable),
  };
}

/**
 * Retries: 2 tries for a model with several targets and 1 for a lone one, unless `retry` (the
 * model's, over the top-level defaults) says otherwise.
 */
function retryPolicy(endpoint: EndpointFile, defaults: PolicyDefaults, targetCount: number): RetryPolicy {
  const retry = { ...defaults.retry, ...endpoint.retry };
  return {
    attempts: retry.attempts ?? (targetCount > 1 ? 2 : 1),
    backoffMs: retry.backoffMs ?? DEFAULT_BACKOFF_MS,
    maxBackoffMs: retry.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    retryOn: new Set(retry.retryOn ?? DEFAULT_RETRY_ON),
  };
}

/** A lone target is never cooled down into a hard failure unless its own model asks for it. */
function cooldownPolicy(endpoint: EndpointFile, defaults: PolicyDefaults, targetCount: number): CooldownPolicy | null {
  if (targetCount < 2 && !endpoint.cooldown) return null;
  const cooldown = { ...DEFAULT_COOLDOWN, ...defaults.cooldown, ...endpoint.cooldown };
  return { failures: cooldown.failures, ms: Math.round(cooldown.seconds * 1000) };
}

/** A configured endpoint (single-backend form or `targets`) as the router sees it. */
export function modelFromEndpoint(id: string, endpoint: EndpointFile, defaults: EndpointDefaults): Model {
  const sources: readonly TargetSource[] = endpoint.targets ?? [{ url: endpoint.url }];
  const targets = sources.map((source, i) => resolveTarget(id, source, i, endpoint, defaults));
  const weighted = endpoint.targets?.some((target) => target.weight !== undefined) ?? false;
  return {
    id,
    displayName: endpoint.displayName ?? id,
    strategy: endpoint.strategy ?? (weighted ? "weighted" : "round-robin"),
    retry: retryPolicy(endpoint, defaults.policy, targets.length),
    cooldown: cooldownPolicy(endpoint, defaults.policy, targets.length),
    fallbacks: endpoint.fallbacks ?? [],
    targets,
    healthCheckMs: endpoint.healthCheck?.intervalMs ?? null,
    aliases: endpoint.aliases ?? [],
  };
}

const DEFAULT_REFRESH_MS = 60_000;

/** An endpoint with `discover`, as the discovery loop sees it. */
export function sourceFromEndpoint(id: string, endpoint: EndpointFile, template: Model): DiscoverySource {
  const price = endpoint.price ? resolvePrice(endpoint.price, id, null) : null;
  const discover = endpoint.discover!;
  const include = discover.include ?? ["*"];
  const exclude = discover.exclude ?? [];
  return {
    id,
    template,
    prefix: discover.prefix ?? "",
    include: new IdMatcher(include),
    exclude: new IdMatcher(exclude),
    refreshMs: discover.refreshMs ?? DEFAULT_REFRESH_MS,
    price,
    fingerprint: JSON.stringify([endpoint.url, endpoint.apiKey ?? "", include, exclude, endpoint.provider ?? "openai", endpoint.apiVersion ?? null]),
  };
}
