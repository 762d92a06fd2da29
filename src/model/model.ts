import type { IdMatcher } from "./glob";
import type { Price } from "./price";

/**
 * What the request path sees of a configured (or discovered) model: a client-facing id with the
 * backends that can serve it. A model is not a backend: it has one or more `Target`s and the
 * policy for choosing among them.
 */
export type Strategy = "round-robin" | "weighted" | "least-busy" | "latency";

/**
 * The wire format a target speaks; its adapter (src/providers/) translates to and from it.
 * openai: OpenAI and every OpenAI-compatible server; azure: OpenAI's format on Azure's paths and
 * key header; anthropic and gemini: their native APIs, translated from and to OpenAI's.
 */
export type ProviderKind = "openai" | "anthropic" | "gemini" | "azure";

export const PROVIDER_KINDS: readonly ProviderKind[] = ["openai", "anthropic", "gemini", "azure"];

export interface RetryPolicy {
  /** Tries in total, the first included. */
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly retryOn: ReadonlySet<number>;
}

export interface CooldownPolicy {
  /** Consecutive failures that take a target out. */
  readonly failures: number;
  readonly ms: number;
}

/** How long a backend may take: to accept a connection, to send its headers, between two chunks. */
export interface Timeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly idleMs: number;
}

/** One backend of a model. */
export interface Target {
  /** What logs, headers and `/health` show; never the URL (it may carry credentials). */
  readonly name: string;
  readonly modelId: string;
  /** Identifies the target's runtime state across reloads: model id and name. */
  readonly stateKey: string;
  /** The configured URL, compared on reload to decide whether runtime state carries over. */
  readonly url: string;
  readonly provider: ProviderKind;
  /**
   * Every upstream path is appended to it: `<url>/v1/` for openai and anthropic, `<url>/` for
   * gemini (its paths start with `v1beta/`), `<url>/openai/` for azure.
   */
  readonly prefix: string;
  /** openai: `Bearer <apiKey>`, or null when the backend takes no key; null for the other providers, which send `apiKey` in their own header. */
  readonly authorization: string | null;
  /** The backend's key as configured; null (or left out) when it takes none. */
  readonly apiKey?: string | null;
  /** anthropic: the `max_tokens` sent when the client gave none. */
  readonly maxTokens?: number;
  /** azure: the `api-version` of the deployment paths; null (or left out): the `/openai/v1/` paths. */
  readonly apiVersion?: string | null;
  readonly actualModelName: string;
  readonly timeouts: Timeouts;
  readonly weight: number;
  /** Whether the proxy may add `stream_options.include_usage` to a streamed chat request. */
  readonly streamUsage: boolean;
  /** What its tokens cost, resolved when the config was loaded; null (or left out): unpriced, its requests cost null. */
  readonly price?: Price | null;
}

export interface Model {
  readonly id: string;
  readonly displayName: string;
  readonly strategy: Strategy;
  readonly retry: RetryPolicy;
  /** null: never cooled down (a lone target whose model sets no `cooldown`). */
  readonly cooldown: CooldownPolicy | null;
  readonly fallbacks: readonly string[];
  readonly targets: readonly Target[];
  readonly healthCheckMs: number | null;
  /** Further ids (exact or globs) that resolve to this model without being listed in `/models`. */
  readonly aliases?: readonly string[];
}

/** An endpoint with `discover`: a source of models, not a model itself. */
export interface DiscoverySource {
  readonly id: string;
  /** The source as a one-target model: each discovered model copies it with its own id. */
  readonly template: Model;
  readonly prefix: string;
  readonly include: IdMatcher;
  readonly exclude: IdMatcher;
  readonly refreshMs: number;
  /** The endpoint's configured price, for every model it discovers; null: each is priced from the built-in table by its backend id. */
  readonly price: Price | null;
  /** Changes when anything that decides the list changes (URL, key, filters): a new list is needed. */
  readonly fingerprint: string;
}

export const stateKeyOf = (modelId: string, name: string) => `${modelId}\u0000${name}`;

/** A model a discovery source found: the source's URL and key, the backend's own id as model name, and the price of that name. */
export function discoveredModel(source: Model, id: string, backendId: string, price: Price | null): Model {
  const template = source.targets[0]!;
  const target: Target = { ...template, name: source.id, modelId: id, stateKey: stateKeyOf(id, source.id), actualModelName: backendId, price };
  return { ...source, id, displayName: id, fallbacks: [], targets: [target], aliases: [] };
}

/** The header that carries a target's key, as its provider expects it; empty when it has none. */
export function backendAuthHeaders(target: Target): Record<string, string> {
  const key = target.apiKey;
  switch (target.provider) {
    case "openai":
      return target.authorization ? { authorization: target.authorization } : {};
    case "anthropic":
      return key ? { "x-api-key": key, "anthropic-version": ANTHROPIC_VERSION } : { "anthropic-version": ANTHROPIC_VERSION };
    case "gemini":
      return key ? { "x-goog-api-key": key } : {};
    case "azure":
      return key ? { "api-key": key } : {};
  }
}

/** The `anthropic-version` every Anthropic request carries. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Where a target lists its models (health checks, discovery). */
export function modelListUrl(target: Target): string {
  switch (target.provider) {
    case "gemini":
      return `${target.prefix}v1beta/models`;
    case "azure":
      return target.apiVersion ? `${target.prefix}models?api-version=${encodeURIComponent(target.apiVersion)}` : `${target.prefix}v1/models`;
    default:
      return `${target.prefix}models`;
  }
}
