import type { Database } from "bun:sqlite";
import { withPercentiles, type GroupTotals } from "./query";
import { ERROR_CONDITION, groupKeys } from "./row";
import type { StoreGroupBy, UsageGroup, UsageRange } from "./store";

/** The SQL expression each grouping groups by (shared with the PostgreSQL store; only the time buckets are SQLite's own). */
const GROUP_KEYS = groupKeys({
  dayOfTs: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
  hourOfTs: "strftime('%Y-%m-%dT%H', ts / 1000, 'unixepoch')",
});

/**
 * The `/usage` groups of the rows of a usage file in `range`: the sums in SQL, the exact
 * nearest-rank percentiles from the durations read in order, one group at a time. Both statements
 * read in one transaction, so rows the proxy writes meanwhile are in neither and every group's
 * percentiles rank exactly the requests it counts.
 */
export function queryUsageFile(db: Database, range: UsageRange, groupBy: StoreGroupBy): UsageGroup[] {
  db.exec("BEGIN");
  try {
    return groupsOf(db, range, groupBy);
  } finally {
    db.exec("COMMIT");
  }
}

function groupsOf(db: Database, range: UsageRange, groupBy: StoreGroupBy): UsageGroup[] {
  const key = GROUP_KEYS[groupBy];
  const where = "FROM usage WHERE ts >= ? AND ts < ?";
  const totals = db
    .query(
      `SELECT ${key} AS key, count(*) AS requests, sum(${ERROR_CONDITION}) AS errors,
        coalesce(sum(prompt_tokens), 0) AS promptTokens, coalesce(sum(completion_tokens), 0) AS completionTokens,
        coalesce(sum(total_tokens), 0) AS totalTokens, sum(cost_usd) AS costUsd ${where} GROUP BY 1 ORDER BY 1`,
    )
    .all(range.from, range.to) as GroupTotals[];
  const durations = db.query(`SELECT ${key} AS key, duration_ms AS ms ${where} ORDER BY 1, 2`);
  function* pairs(): Generator<readonly [string, number]> {
    for (const row of durations.iterate(range.from, range.to) as IterableIterator<{ key: string; ms: number }>) yield [row.key, row.ms];
  }
  return withPercentiles(totals, pairs());
}
