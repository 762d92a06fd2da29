// A single instance keeps its limit counters in memory, and a restart would forget what today and
// this month already spent, handing every budget out again. At start (and after a reload, which may
// add budgets) the spend of the current UTC day and month is read back from the usage store, per
// client key (config keys by name, issued keys by id), per user and per model, and no counter is left below it. With Redis the counters
// outlive the instance and need none of this; with the usage store off there is nothing to read.
import { windowRange, type Period } from "../limits/calendar";
import type { MemoryCounters } from "../limits/memory-counters";
import { ruleKey, usdToNanos } from "../limits/rules";
import { hasBudget, type LimitKind, type LimitScope } from "../model/limits";
import type { ClientKey } from "../access/clients";
import type { ProxyConfig } from "../config/proxy-config";
import type { GroupBy, UsageStore } from "./usage/store";

const PERIODS: readonly (readonly [Period, LimitKind])[] = [
  ["day", "usdPerDay"],
  ["month", "usdPerMonth"],
];

/**
 * Each grouping of the rows, the scope its groups are counted in, and the counter's subject of a
 * group: config keys count under their name, issued keys under their id (which a rename keeps),
 * models under the id an alias resolves to.
 */
const SCOPES: readonly (readonly [GroupBy, LimitScope, (key: string, modelIdOf: (named: string) => string) => string])[] = [
  ["client", "client", (name) => name],
  ["key", "client", (id) => `id:${id}`],
  ["user", "user", (user) => user],
  ["model", "model", (named, modelIdOf) => modelIdOf(named)],
];

/** What a usage row's group key stands for when the request had none (no key, no user). */
const NONE = "-";

/**
 * Raises every budget counter to what the usage store holds for its window. `modelIdOf` maps a model
 * as the client named it (rows keep that) to the model id budgets count under (an alias to its model).
 * Counters are only ever raised, so requests charged meanwhile are not lost.
 */
export async function seedBudgets(usage: UsageStore, counters: MemoryCounters, now: number, modelIdOf: (named: string) => string): Promise<void> {
  for (const [period, kind] of PERIODS) {
    const range = windowRange(period, now);
    for (const [groupBy, scope, subjectOf] of SCOPES) {
      const spent = new Map<string, number>();
      for (const group of await usage.query(range, groupBy)) {
        if (group.key === NONE || !group.costUsd) continue;
        const subject = subjectOf(group.key, modelIdOf);
        spent.set(subject, (spent.get(subject) ?? 0) + group.costUsd);
      }
      for (const [subject, usd] of spent) counters.raiseSpent(ruleKey(scope, kind, subject), period, now, usdToNanos(usd));
    }
  }
}

/** Which issued keys have a budget, and what it is: changes when a key gains, loses or changes one. */
export const budgetedKeys = (issued: readonly ClientKey[]): string =>
  issued
    .filter((client) => hasBudget(client.limits))
    .map((client) => `${client.id}:${client.limits?.usdPerDay ?? ""}:${client.limits?.usdPerMonth ?? ""}`)
    .sort()
    .join(",");

/** Whether any budget is configured, in any scope of the config, or on a key issued at runtime. */
export function hasBudgets({ limits, clients }: ProxyConfig, issued: readonly ClientKey[] = []): boolean {
  return (
    issued.some((client) => hasBudget(client.limits)) ||
    hasBudget(limits.perClient) ||
    hasBudget(limits.perUser) ||
    Object.values(limits.perModel).some(hasBudget) ||
    clients.keys.some((client) => hasBudget(client.limits))
  );
}
