// A single instance keeps its limit counters in memory, and a restart would forget what today and
// this month already spent, handing every budget (in dollars, or tokens per day) out again. At
// start, and whenever such a limit may have appeared (a reload, an issued key given one), the spend
// of the current UTC day and month is read back from the usage store, per client key (config keys
// by name, issued keys by id), per user and per model, and no counter is left below it. With Redis the counters outlive the instance and
// need none of this; with the usage store off there is nothing to read.
import { windowRange, type Period } from "../limits/calendar";
import type { MemoryCounters } from "../limits/memory-counters";
import { issuedKeyCounter, ruleKey, usdToNanos } from "../limits/rules";
import { countsWindowTotal, type LimitKind, type LimitScope } from "../model/limits";
import type { ClientKey } from "../access/clients";
import type { LiveCatalog } from "../catalog/live-catalog";
import type { LiveConfig } from "../config/live-config";
import type { ProxyConfig } from "../config/proxy-config";
import type { IssuedKeys } from "../keys/issued-keys";
import { withDeadline } from "../lib/deadline";
import { messageOf } from "../lib/error-message";
import type { Logger } from "../lib/log";
import { MODEL_SERVED_SEPARATOR, type StoreGroupBy, type UsageGroup, type UsageStore } from "./usage/store";

/** Each limit counted over a calendar window, and what a group of usage rows spent of it. */
const WINDOWED: readonly (readonly [Period, LimitKind, (group: UsageGroup) => number])[] = [
  ["day", "usdPerDay", (group) => usdToNanos(group.costUsd ?? 0)],
  ["month", "usdPerMonth", (group) => usdToNanos(group.costUsd ?? 0)],
  ["day", "tokensPerDay", (group) => group.totalTokens],
];

/** What a usage row's group key stands for when the request had none (no key, no user). */
const NONE = "-";

/**
 * Each grouping of the rows, the scope its groups are counted in, and the counters' subjects of a
 * group: config keys count under their name (only their own rows: an issued key that bore the same
 * name spent under its id), issued keys under their id (which a rename keeps), models under the id
 * an alias resolves to, and a request a fallback served under that model's id as well.
 */
const SCOPES: readonly (readonly [StoreGroupBy, LimitScope, (key: string, modelIdOf: (named: string) => string) => readonly string[]])[] = [
  ["configKey", "client", (name) => [name]],
  ["key", "client", (id) => [issuedKeyCounter(id)]],
  ["user", "user", (user) => [user]],
  ["modelServed", "model", modelsOf],
];

/** The models a `modelServed` group spent under: the one asked for, and the one that served it when another. */
function modelsOf(key: string, modelIdOf: (named: string) => string): readonly string[] {
  const at = key.lastIndexOf(MODEL_SERVED_SEPARATOR);
  const named = key.slice(0, at);
  if (named === NONE) return [];
  const asked = modelIdOf(named);
  const served = key.slice(at + 1);
  return served === NONE || served === asked ? [asked] : [asked, served];
}

/**
 * Raises every windowed counter (budgets, tokens per day) to what the usage store holds for its window. `modelIdOf` maps a model
 * as the client named it (rows keep that) to the model id budgets count under (an alias to its model).
 * Counters are only ever raised, so requests charged meanwhile are not lost.
 */
export async function seedBudgets(usage: UsageStore, counters: MemoryCounters, now: number, modelIdOf: (named: string) => string): Promise<void> {
  for (const [period, kind, amountOf] of WINDOWED) {
    const range = windowRange(period, now);
    for (const [groupBy, scope, subjectsOf] of SCOPES) {
      const spent = new Map<string, number>();
      for (const group of await usage.query(range, groupBy)) {
        const amount = amountOf(group);
        if (group.key === NONE || !amount) continue;
        for (const subject of subjectsOf(group.key, modelIdOf)) spent.set(subject, (spent.get(subject) ?? 0) + amount);
      }
      for (const [subject, amount] of spent) counters.raiseSpent(ruleKey(scope, kind, subject), period, now, amount);
    }
  }
}

/** Which issued keys have a windowed limit, and what it is: changes when a key gains, loses or changes one. */
const budgetedKeys = (issued: readonly ClientKey[]): string =>
  issued
    .filter((client) => countsWindowTotal(client.limits))
    .map((client) => `${client.id}:${client.limits?.usdPerDay ?? ""}:${client.limits?.usdPerMonth ?? ""}:${client.limits?.tokensPerDay ?? ""}`)
    .sort()
    .join(",");

/** Whether any windowed limit is configured, in any scope of the config, or on a key issued at runtime. */
function hasBudgets({ limits, clients }: ProxyConfig, issued: readonly ClientKey[] = []): boolean {
  return (
    issued.some((client) => countsWindowTotal(client.limits)) ||
    countsWindowTotal(limits.perClient) ||
    countsWindowTotal(limits.perUser) ||
    Object.values(limits.perModel).some(countsWindowTotal) ||
    clients.keys.some((client) => countsWindowTotal(client.limits))
  );
}

export interface FollowBudgetsOptions {
  readonly usage: UsageStore;
  readonly counters: MemoryCounters;
  readonly configs: LiveConfig;
  /** Resolves the model a row names (an alias) to the model id budgets count under. */
  readonly catalogs: LiveCatalog;
  readonly keys: IssuedKeys | null;
  readonly log: Logger;
  /** How long the start waits for the first read before serving (then it lands in the background). */
  readonly waitMs: number;
}

/**
 * Reads the spend back whenever a budget may have appeared: at start, when budgets exist (waiting
 * at most `waitMs`); after a reload that has budgets; when an issued key gains or changes one (made
 * with one, or given one). Reading again only ever raises a counter, so it never double-counts.
 */
export async function followBudgets({ usage, counters, configs, catalogs, keys, log, waitMs }: FollowBudgetsOptions): Promise<void> {
  const modelIdOf = (named: string) => {
    try {
      return catalogs.current.resolve(named, null).id;
    } catch {
      return named;
    }
  };
  const seed = () =>
    seedBudgets(usage, counters, Date.now(), modelIdOf).catch((error) =>
      log.warn(`budgets: today's and this month's spend could not be read from the usage store (${messageOf(error)}); they count from now`, {
        error: messageOf(error),
      }),
    );
  configs.onChange(async (config) => {
    if (hasBudgets(config, keys?.clients)) void seed();
  });
  let budgeted = keys ? budgetedKeys(keys.clients) : "";
  keys?.onChange(() => {
    const now = budgetedKeys(keys.clients);
    if (now !== budgeted && now !== "") void seed();
    budgeted = now;
  });
  if (!hasBudgets(configs.current, keys?.clients)) return;
  await withDeadline(seed(), waitMs, () =>
    log.warn("budgets: the usage store is slow to say what today and this month spent; serving meanwhile, the spend is added when it answers"),
  );
}
