// A price table matched on a backend's model name, with the rules of @pydantic/genai-prices (whose
// snapshot, built-in-prices.json, is the table built into the binary): the first provider whose
// rule takes the name, then the first of its models (or of the providers it falls back to) whose
// rule does, names compared in lower case; a name with a YYYYMMDD date is tried again as YYYY-MM-DD.
import type { Price } from "../model/price";
import snapshot from "./built-in-prices.json";

type MatchLogic =
  | { readonly or: readonly MatchLogic[] }
  | { readonly and: readonly MatchLogic[] }
  | { readonly equals: string }
  | { readonly starts_with: string }
  | { readonly ends_with: string }
  | { readonly contains: string }
  | { readonly regex: string };

/** One model's prices, USD per million tokens; `since` (a UTC date) for a price that starts on a date. */
interface DatedPrice {
  readonly since?: string;
  readonly input: number;
  readonly output: number;
  readonly cachedInput?: number;
  readonly cacheWrite?: number;
}

/** The snapshot's shape (scripts/prices.ts writes it). */
export interface PriceSnapshot {
  readonly source: string;
  readonly version: string;
  /** When the source published this version, YYYY-MM-DD. */
  readonly date: string;
  readonly providers: readonly {
    readonly id: string;
    readonly match?: MatchLogic;
    readonly fallbacks?: readonly string[];
    readonly models: readonly { readonly id: string; readonly match: MatchLogic; readonly prices: readonly DatedPrice[] }[];
  }[];
}

type Matcher = (name: string) => boolean;

function compile(rule: MatchLogic): Matcher {
  if ("or" in rule) {
    const parts = rule.or.map(compile);
    return (name) => parts.some((part) => part(name));
  }
  if ("and" in rule) {
    const parts = rule.and.map(compile);
    return (name) => parts.every((part) => part(name));
  }
  if ("regex" in rule) {
    const pattern = new RegExp(rule.regex);
    return (name) => pattern.test(name);
  }
  if ("equals" in rule) {
    const value = rule.equals.toLowerCase();
    return (name) => name === value;
  }
  if ("starts_with" in rule) {
    const value = rule.starts_with.toLowerCase();
    return (name) => name.startsWith(value);
  }
  if ("ends_with" in rule) {
    const value = rule.ends_with.toLowerCase();
    return (name) => name.endsWith(value);
  }
  if ("contains" in rule) {
    const value = rule.contains.toLowerCase();
    return (name) => name.includes(value);
  }
  return () => false;
}

interface TableModel {
  readonly matches: Matcher;
  readonly prices: readonly DatedPrice[];
}

interface TableProvider {
  readonly id: string;
  readonly matches: Matcher | null;
  readonly models: readonly TableModel[];
  readonly fallbacks: readonly string[];
}

/** `-20250929` → `-2025-09-29` where it is a real date, as the source's rules expect either. */
const DATED = /(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;
const undated = (name: string) =>
  name.replace(DATED, (whole, dash: string, year: string, month: string, day: string) => {
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day) ? `${dash}${year}-${month}-${day}` : whole;
  });

/** The price in force on `today` (YYYY-MM-DD): the last one that started by then; null for a model with no token price. */
function priceOn(prices: readonly DatedPrice[], today: string): Price | null {
  let found: DatedPrice | undefined;
  for (const price of prices) if (price.since === undefined || price.since <= today) found = price;
  if (!found) return null;
  return {
    inputPerMTok: found.input,
    outputPerMTok: found.output,
    cachedInputPerMTok: found.cachedInput ?? null,
    cacheWriteInputPerMTok: found.cacheWrite ?? null,
    source: "built-in",
  };
}

/** A price table compiled once; `lookup` runs when a config is loaded or a model discovered, never per request. */
export class PriceTable {
  private readonly providers: readonly TableProvider[];
  private readonly byId: ReadonlyMap<string, TableProvider>;

  constructor(readonly snapshot: PriceSnapshot) {
    this.providers = snapshot.providers.map((provider) => ({
      id: provider.id,
      matches: provider.match ? compile(provider.match) : null,
      fallbacks: provider.fallbacks ?? [],
      models: provider.models.map((model) => ({ matches: compile(model.match), prices: model.prices })),
    }));
    this.byId = new Map(this.providers.map((provider) => [provider.id, provider]));
  }

  /**
   * The price of a backend model name, or null when the table has none. A name the rules do not
   * take as it is may carry a provider in front (`openai/gpt-4o-mini`, `gemini/gemini-2.5-flash`):
   * its rest is tried in that provider when the table has one by that id, else as a name of its own.
   */
  lookup(modelName: string, today = new Date().toISOString().slice(0, 10)): Price | null {
    const model = this.find(modelName.trim().toLowerCase());
    return model ? priceOn(model.prices, today) : null;
  }

  private find(name: string): TableModel | undefined {
    const provider = this.providers.find((candidate) => candidate.matches?.(name));
    const found = provider && this.inProvider(provider, name);
    if (found) return found;
    const slash = name.indexOf("/");
    if (slash <= 0 || slash === name.length - 1) return undefined;
    const rest = name.slice(slash + 1);
    const named = this.byId.get(name.slice(0, slash));
    return (named && this.inProvider(named, rest)) ?? this.find(rest);
  }

  private inProvider(provider: TableProvider, name: string): TableModel | undefined {
    const found = this.modelOf(provider, name, true);
    if (found) return found;
    const plain = undated(name);
    return plain === name ? undefined : this.modelOf(provider, plain, true);
  }

  private modelOf(provider: TableProvider, name: string, withFallbacks: boolean): TableModel | undefined {
    const found = provider.models.find((model) => model.matches(name));
    if (found || !withFallbacks) return found;
    for (const id of provider.fallbacks) {
      const fallback = this.byId.get(id);
      const model = fallback && this.modelOf(fallback, name, false);
      if (model) return model;
    }
    return undefined;
  }
}

/** The table built into the binary (src/pricing/built-in-prices.json, refreshed by `make prices`). */
export const BUILT_IN_PRICES = new PriceTable(snapshot as PriceSnapshot);
