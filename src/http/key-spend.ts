import type { RouteContext } from "./context";

/** What a key spent, in US dollars: today and this month (UTC); null when it cannot be told. */
export interface Spend {
  readonly todayUsd: number | null;
  readonly monthUsd: number | null;
}

/** A key whose spend is asked for: an issued key by its id, a config-file key (id null) by its name. */
export interface SpendSubject {
  readonly id: string | null;
  readonly name: string;
}

export type SpendOf = (subjects: readonly SpendSubject[], now: number) => Promise<Spend[]>;

const UNKNOWN: Spend = { todayUsd: null, monthUsd: null };

export const keySpend =
  (_context: RouteContext): SpendOf =>
  async (subjects) =>
    subjects.map(() => UNKNOWN);
