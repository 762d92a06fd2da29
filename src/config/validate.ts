import { TypeCompiler } from "@sinclair/typebox/compiler";
import { OPENWEBUI_HEADERS } from "../access/openwebui-headers";
import { describeValueError, dottedPath } from "../lib/schema-errors";
import { IdMatcher, isGlob } from "../model/glob";
import { hasBudget } from "../model/limits";
import type { Model, ProviderKind } from "../model/model";
import { ConfigFileSchema, type ConfigFile, type EndpointFile } from "./schema";
import { DEFAULT_URLS } from "./url";

const checker = TypeCompiler.Compile(ConfigFileSchema);

/** One line per problem, e.g. `endpoints.gpt.url: expected a string`; empty when the value is valid. */
export function configProblems(value: unknown): string[] {
  if (checker.Check(value)) return [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const error of checker.Errors(value)) {
    const path = dottedPath(error.path);
    if (seen.has(path)) continue; // TypeBox reports one failure several ways; the first is the clearest
    seen.add(path);
    problems.push(`${path}: ${describeValueError(error)}`);
  }
  return problems;
}

/** Problems no schema can see: how fields combine and refer to each other. */
export function crossFieldProblems(file: ConfigFile): string[] {
  const problems: string[] = [];
  const endpoints = Object.entries(file.endpoints);
  const models = new Set(endpoints.filter(([, endpoint]) => !endpoint.discover).map(([id]) => id));
  const prefixes = endpoints.flatMap(([, endpoint]) => (endpoint.discover ? [endpoint.discover.prefix ?? ""] : []));
  for (const [id, endpoint] of endpoints) problems.push(...endpointProblems(id, endpoint, models, prefixes));
  problems.push(...aliasProblems(endpoints, models));

  const seenKeys = new Set<string>();
  file.clientKeys?.forEach((client, i) => {
    if (seenKeys.has(client.key)) problems.push(`clientKeys.${i}.key: the same key is listed twice`);
    seenKeys.add(client.key);
    // Globs, and ids a discovery source may offer later (under its prefix), are fine; any other unknown id is a typo.
    client.models?.forEach((model, j) => {
      if (isGlob(model) || models.has(model) || prefixes.some((prefix) => model.startsWith(prefix))) return;
      problems.push(`clientKeys.${i}.models.${j}: unknown model '${model}'`);
    });
  });
  // Limits are looked up by the served model's own id: a key that names no model limits nothing.
  for (const model of Object.keys(file.limits?.perModel ?? {})) {
    const at = `limits.perModel.${model}`;
    if (isGlob(model)) problems.push(`${at}: a model id, not a glob: perModel limits each model by its own id`);
    else if (!models.has(model) && !prefixes.some((prefix) => model.startsWith(prefix))) problems.push(`${at}: unknown model '${model}'`);
  }
  problems.push(...urlProblems("usage.postgres", file.usage?.postgres), ...urlProblems("state.redis", file.state?.redis));
  for (const field of Object.keys(file.openWebUI?.headers ?? {})) {
    if (!Object.hasOwn(OPENWEBUI_HEADERS, field)) {
      problems.push(`openWebUI.headers.${field}: Open WebUI has no such header; the fields are ${Object.keys(OPENWEBUI_HEADERS).join(", ")}`);
    }
  }
  if (file.openWebUI?.requireUser && !file.openWebUI.userJwtSecret) {
    problems.push("openWebUI.requireUser: needs openWebUI.userJwtSecret (only a signed token proves who the user is)");
  }
  return problems;
}

function endpointProblems(id: string, endpoint: EndpointFile, models: ReadonlySet<string>, prefixes: readonly string[]): string[] {
  const at = `endpoints.${id}`;
  const problems: string[] = [];
  const provider = endpoint.provider ?? "openai";
  if (endpoint.url === undefined && endpoint.targets === undefined && !DEFAULT_URLS[provider]) problems.push(`${at}.url: is required (or a targets list)`);
  if (endpoint.url !== undefined && endpoint.targets !== undefined) problems.push(`${at}: has both url and targets; use one`);
  const urls = [
    { field: `${at}.url`, url: endpoint.url },
    ...(endpoint.targets ?? []).map((target, i) => ({ field: `${at}.targets.${i}.url`, url: target.url })),
  ];
  for (const { field, url } of urls) {
    // Request paths are appended to the URL: anything after a ? or # would swallow them.
    if (url !== undefined && /[?#]/.test(url))
      problems.push(`${field}: has a query string or fragment; a base URL ends at its path (Azure's api-version goes in apiVersion)`);
    else problems.push(...urlProblems(field, url));
  }
  if (endpoint.discover && endpoint.targets) problems.push(`${at}.discover: a discovery source takes a url, not targets`);
  const names = new Set<string>();
  endpoint.targets?.forEach((target, i) => {
    const name = target.name ?? `${id}#${i}`;
    if (names.has(name)) problems.push(`${at}.targets.${i}.name: '${name}' is used twice in this model`);
    names.add(name);
    const own = target.provider ?? provider;
    if (target.url === undefined && !DEFAULT_URLS[own]) problems.push(`${at}.targets.${i}.url: is required`);
    problems.push(...providerFieldProblems(`${at}.targets.${i}`, target, [own]));
  });
  const used = endpoint.targets ? endpoint.targets.map((target) => target.provider ?? provider) : [provider];
  problems.push(...providerFieldProblems(at, endpoint, used));
  // The chain tries each entry in turn, with its retries: one listed twice would be tried twice.
  endpoint.fallbacks?.forEach((fallback, i) => {
    if (fallback === id) problems.push(`${at}.fallbacks.${i}: a model cannot fall back to itself`);
    else if (endpoint.fallbacks!.indexOf(fallback) < i) problems.push(`${at}.fallbacks.${i}: '${fallback}' is listed twice`);
    else if (!models.has(fallback) && !prefixes.some((prefix) => fallback.startsWith(prefix))) {
      problems.push(`${at}.fallbacks.${i}: unknown model '${fallback}'`);
    }
  });
  return problems;
}

/**
 * The schema checks a URL's scheme only: one without a host or with a port past 65535 would pass
 * it and then fail every request (or, for usage.postgres, the start that --check-config passed).
 * The URL itself is not quoted: it may carry a password.
 */
function urlProblems(field: string, url: string | undefined): string[] {
  return url === undefined || URL.canParse(url) ? [] : [`${field}: not a valid URL (is its host or port wrong?)`];
}

/** Fields that mean something to one provider only: set where no target speaks it, they are a mistake. */
const PROVIDER_FIELDS = [
  ["maxTokens", "anthropic"],
  ["apiVersion", "azure"],
] as const satisfies readonly (readonly [string, ProviderKind])[];

/** `fields` set where none of `providers` (the providers of the targets that inherit them) reads them. */
function providerFieldProblems(at: string, fields: { maxTokens?: unknown; apiVersion?: unknown }, providers: readonly ProviderKind[]): string[] {
  const problems: string[] = [];
  for (const [field, reader] of PROVIDER_FIELDS) {
    if (fields[field] === undefined || providers.includes(reader)) continue;
    const named = [...new Set(providers)].map((provider) => `"${provider}"`).join(" or ");
    problems.push(`${at}.${field}: applies only to provider "${reader}", not ${named}`);
  }
  return problems;
}

/** An alias may not hide a model, name two models, or sit on a discovery source (which is no model). */
function aliasProblems(endpoints: readonly [string, EndpointFile][], models: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const [id, endpoint] of endpoints) {
    if (!endpoint.aliases) continue;
    if (endpoint.discover) {
      problems.push(`endpoints.${id}.aliases: a discovery source takes no aliases`);
      continue;
    }
    endpoint.aliases.forEach((alias, i) => {
      const at = `endpoints.${id}.aliases.${i}`;
      const owner = owners.get(alias);
      if (models.has(alias)) problems.push(`${at}: '${alias}' is a model id already`);
      else if (owner !== undefined) problems.push(`${at}: '${alias}' is an alias of '${owner}' already`);
      else owners.set(alias, id);
    });
  }
  return problems;
}

/** Below this, a price per million tokens is more likely a price per token (a $3/M price typed as 0.000003). */
const PER_TOKEN_LOOKING = 0.001;

/** HS256 keys shorter than the hash (RFC 7518 §3.2) can be guessed offline from one captured token. */
const MIN_JWT_SECRET_CHARS = 32;

/** Valid, yet likely a mistake: `--check-config` prints these, and the proxy logs them when it loads the file. */
export function configWarnings(file: ConfigFile): string[] {
  const warnings: string[] = [];
  for (const [id, endpoint] of Object.entries(file.endpoints)) {
    warnings.push(...priceWarnings(`endpoints.${id}.price`, endpoint.price));
    endpoint.targets?.forEach((target, i) => warnings.push(...priceWarnings(`endpoints.${id}.targets.${i}.price`, target.price)));
  }
  const secret = file.openWebUI?.userJwtSecret;
  if (secret && secret.length < MIN_JWT_SECRET_CHARS) {
    warnings.push(
      `openWebUI.userJwtSecret: ${secret.length} characters; use at least ${MIN_JWT_SECRET_CHARS} random ones (e.g. openssl rand -hex 32), on both sides`,
    );
  }
  // A key without a name is named by its place in the list, and its limits count under that name.
  const keys = file.clientKeys ?? [];
  if (file.limits?.perClient || keys.some((key) => key.limits)) {
    keys.forEach((key, i) => {
      if (key.name === undefined) {
        warnings.push(
          `clientKeys.${i}: has no name, so its limits and usage count under its place in the list, which moves when keys are added or removed; give it a name`,
        );
      }
    });
  }
  return warnings;
}

function priceWarnings(at: string, price: EndpointFile["price"]): string[] {
  if (!price) return [];
  return (["inputPerMTok", "outputPerMTok", "cachedInputPerMTok", "cacheWriteInputPerMTok"] as const).flatMap((field) => {
    const value = price[field];
    if (value === undefined || value <= 0 || value >= PER_TOKEN_LOOKING) return [];
    return [
      `${at}.${field}: ${value} looks like a price per token; prices are US dollars per million tokens (${+(value * 1_000_000).toPrecision(6)} for $${value} a token)`,
    ];
  });
}

/** Models a warning names at most; the rest are counted. */
const NAMED_MODELS = 5;

/** A model whose requests may cost null: some target of it has no price. */
const unpriced = (model: Model) => model.targets.some((target) => !target.price);

/**
 * A budget over a model with no price is spent by none of its requests (they cost null): a warning
 * names those models, for a perModel budget, a perUser or perClient one (every model), and a key's
 * own (the models it may use). Discovered models are priced as they come and are not named.
 */
export function budgetWarnings(file: ConfigFile, models: ReadonlyMap<string, Model>): string[] {
  const limits = file.limits ?? {};
  const warnings: string[] = [];
  const warn = (at: string, ids: readonly string[]) => {
    if (ids.length === 0) return;
    const named = ids.slice(0, NAMED_MODELS).map((id) => `'${id}'`);
    const more = ids.length > NAMED_MODELS ? ` and ${ids.length - NAMED_MODELS} more` : "";
    warnings.push(
      `${at}: a budget over ${ids.length === 1 ? "a model" : "models"} with no price (${named.join(", ")}${more}): their requests cost null and spend none of it; give them a price`,
    );
  };
  const everyUnpriced = [...models.values()].filter(unpriced).map((model) => model.id);
  for (const [id, set] of Object.entries(limits.perModel ?? {})) {
    const model = models.get(id);
    if (hasBudget(set) && model && unpriced(model)) warn(`limits.perModel.${id}`, [id]);
  }
  if (hasBudget(limits.perUser)) warn("limits.perUser", everyUnpriced);
  if (hasBudget(limits.perClient) && (file.clientKeys?.length ?? 0) > 0) warn("limits.perClient", everyUnpriced);
  file.clientKeys?.forEach((client, i) => {
    if (!hasBudget(client.limits)) return;
    const allowed = client.models ? new IdMatcher(client.models) : null;
    warn(
      `clientKeys.${i}.limits (${client.name ?? `clientKeys[${i}]`})`,
      everyUnpriced.filter((id) => !allowed || allowed.matches(id)),
    );
  });
  return warnings;
}
