import type { LimitKind, LimitScope, LimitSet } from "../model/limits";
import type { Period } from "./calendar";

/** One limit that applies to one request: a kind, for one subject (a key name, a user, a model). */
export interface LimitRule {
  readonly scope: LimitScope;
  readonly kind: LimitKind;
  readonly subject: string;
  /** In the counter's unit: requests, tokens, slots, or nano-dollars for a budget (see `usdToNanos`). */
  readonly limit: number;
  /** The counter's name in the state store: never a key, only configured names and ids. */
  readonly key: string;
}

export const KINDS: readonly LimitKind[] = ["rpm", "tpm", "concurrent", "tokensPerDay", "usdPerDay", "usdPerMonth"];

/** A budget in dollars: charged with each request's cost. */
export const isBudget = (kind: LimitKind) => kind === "usdPerDay" || kind === "usdPerMonth";

/**
 * Money in the counters is whole nano-dollars: sums of integers never drift, and a double holds
 * them exactly up to 9 million dollars per window.
 */
export const NANOS_PER_USD = 1_000_000_000;

/** A cost in whole nano-dollars; a missing, negative or non-finite one charges nothing. */
export const usdToNanos = (usd: number | null): number => (usd !== null && Number.isFinite(usd) && usd > 0 ? Math.round(usd * NANOS_PER_USD) : 0);

export const nanosToUsd = (nanos: number) => nanos / NANOS_PER_USD;

/** The counter's name of one limit of one subject. */
export const ruleKey = (scope: LimitScope, kind: LimitKind, subject: string) => `${scope}:${kind}:${subject}`;

/** The kind a counter's name (`ruleKey`) counts. */
export const kindOfKey = (key: string) => key.slice(key.indexOf(":") + 1, key.indexOf(":", key.indexOf(":") + 1)) as LimitKind;

/** What an issued key's counters are named by: its id, which a rename keeps (a config-file key's are its name). */
export const issuedKeyCounter = (id: string) => `id:${id}`;

/** `counted`: what the counters are named by when it is not the subject (an issued key's id, which a rename keeps). */
export function rulesFor(scope: LimitScope, subject: string, set: LimitSet | undefined, into: LimitRule[], counted = subject): void {
  if (!set) return;
  for (const kind of KINDS) {
    const value = set[kind];
    if (value === undefined) continue;
    const limit = isBudget(kind) ? usdToNanos(value) : value;
    into.push({ scope, kind, subject, limit, key: ruleKey(scope, kind, counted) });
  }
}

/** Token limits and budgets are spent when the usage is known (request limits when admitted). */
export const spentOnUsage = (kind: LimitKind) => kind === "tpm" || kind === "tokensPerDay" || isBudget(kind);

/** What an ended request spends: its tokens, and its cost in nano-dollars (0 when it has no price). */
export interface Spent {
  readonly tokens: number;
  readonly nanos: number;
}

/** What `spent` charges to a limit of this kind (0 for the kinds spent at admission). */
export function amountFor(kind: LimitKind, spent: Spent): number {
  if (isBudget(kind)) return spent.nanos;
  return kind === "tpm" || kind === "tokensPerDay" ? spent.tokens : 0;
}

/** The calendar period of a windowed limit (a daily token budget, a budget in dollars); null for the others. */
export function periodOf(kind: LimitKind): Period | null {
  if (kind === "tokensPerDay" || kind === "usdPerDay") return "day";
  return kind === "usdPerMonth" ? "month" : null;
}
