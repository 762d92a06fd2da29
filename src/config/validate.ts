import { TypeCompiler } from "@sinclair/typebox/compiler";
import { describeValueError, dottedPath } from "../lib/schema-errors";
import { isGlob } from "../model/glob";
import type { ProviderKind } from "../model/model";
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
  return problems;
}

function endpointProblems(id: string, endpoint: EndpointFile, models: ReadonlySet<string>, prefixes: readonly string[]): string[] {
  const at = `endpoints.${id}`;
  const problems: string[] = [];
  const provider = endpoint.provider ?? "openai";
  if (endpoint.url === undefined && endpoint.targets === undefined && !DEFAULT_URLS[provider]) problems.push(`${at}.url: is required (or a targets list)`);
  if (endpoint.url !== undefined && endpoint.targets !== undefined) problems.push(`${at}: has both url and targets; use one`);
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
  endpoint.fallbacks?.forEach((fallback, i) => {
    if (fallback === id) problems.push(`${at}.fallbacks.${i}: a model cannot fall back to itself`);
    else if (!models.has(fallback) && !prefixes.some((prefix) => fallback.startsWith(prefix))) {
      problems.push(`${at}.fallbacks.${i}: unknown model '${fallback}'`);
    }
  });
  return problems;
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

/** Valid, yet likely a mistake: `--check-config` prints these, and the proxy logs them when it loads the file. */
export function configWarnings(file: ConfigFile): string[] {
  const warnings: string[] = [];
  for (const [id, endpoint] of Object.entries(file.endpoints)) {
    warnings.push(...priceWarnings(`endpoints.${id}.price`, endpoint.price));
    endpoint.targets?.forEach((target, i) => warnings.push(...priceWarnings(`endpoints.${id}.targets.${i}.price`, target.price)));
  }
  return warnings;
}

function priceWarnings(at: string, price: EndpointFile["price"]): string[] {
  if (!price) return [];
  return (["inputPerMTok", "outputPerMTok", "cachedInputPerMTok"] as const).flatMap((field) => {
    const value = price[field];
    if (value === undefined || value <= 0 || value >= PER_TOKEN_LOOKING) return [];
    return [
      `${at}.${field}: ${value} looks like a price per token; prices are US dollars per million tokens (${+(value * 1_000_000).toPrecision(6)} for $${value} a token)`,
    ];
  });
}
