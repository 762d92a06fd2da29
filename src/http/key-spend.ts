import { windowRange } from "../limits/calendar";
import type { UsageGroup, UsageStore } from "../observe/usage/store";
import type { RouteContext } from "./context";

/** What a key spent, in US dollars: today and this month (UTC); null when the usage store cannot tell, or none of it was priced. */
export interface Spend {
  readonly todayUsd: number | null;
  readonly monthUsd: number | null;
}

/** A key whose spend is asked for: an issued key by its id (rows' `key_id`), a config-file key (id null) by its name (rows' `client` without a `key_id`). */
export interface SpendSubject {
  readonly id: string | null;
  readonly name: string;
}

export type SpendOf = (subjects: readonly SpendSubject[], now: number) => Promise<Spend[]>;

const UNKNOWN: Spend = { todayUsd: null, monthUsd: null };

/** Cost per group key; a key with no rows spent nothing (0), one whose rows were all unpriced is null. */
const costs = (groups: readonly UsageGroup[]) => new Map(groups.map((group) => [group.key, group.costUsd]));

/**
 * Each key's spend from the usage store's `cost_usd`: issued keys by `key_id` (a rename keeps its
 * spend), config-file keys by client name among rows of no issued key (so one named like a revoked
 * issued key starts from its own spend, as its budget does). Four grouped queries however many keys are asked for;
 * a store that cannot answer (PostgreSQL away) makes every figure null rather than failing the answer.
 */
export const keySpend =
  ({ usage }: Pick<RouteContext, "usage">): SpendOf =>
  async (subjects, now) => {
    if (!usage || subjects.length === 0) return subjects.map(() => UNKNOWN);
    const [day, month] = [windowRange("day", now), windowRange("month", now)];
    const byId = subjects.some((subject) => subject.id !== null);
    const byName = subjects.some((subject) => subject.id === null);
    const grouped = (store: UsageStore, range: { from: number; to: number }, on: "key" | "configKey", wanted: boolean) =>
      wanted ? store.query(range, on).then(costs) : Promise.resolve(new Map<string, number | null>());
    let tables: Map<string, number | null>[];
    try {
      tables = await Promise.all([
        grouped(usage, day, "key", byId),
        grouped(usage, month, "key", byId),
        grouped(usage, day, "configKey", byName),
        grouped(usage, month, "configKey", byName),
      ]);
    } catch {
      return subjects.map(() => UNKNOWN);
    }
    const [keyDay, keyMonth, clientDay, clientMonth] = tables as [
      Map<string, number | null>,
      Map<string, number | null>,
      Map<string, number | null>,
      Map<string, number | null>,
    ];
    const of = (table: Map<string, number | null>, key: string) => (table.has(key) ? table.get(key)! : 0);
    return subjects.map(({ id, name }) =>
      id === null ? { todayUsd: of(clientDay, name), monthUsd: of(clientMonth, name) } : { todayUsd: of(keyDay, id), monthUsd: of(keyMonth, id) },
    );
  };
