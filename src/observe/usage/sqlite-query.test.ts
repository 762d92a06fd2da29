import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryUsageFile } from "./sqlite-query";
import { emptyUsageFile } from "../../../test/support/usage-records";

const dir = mkdtempSync(join(tmpdir(), "cm-owp-usage-query-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the counts and the percentiles come from one snapshot: rows written between the two statements are in neither", async () => {
  const path = await emptyUsageFile(join(dir, "usage.db"));
  const writer = new Database(path);
  const insert = writer.prepare("INSERT INTO usage (ts, request_id, model, status, outcome, duration_ms) VALUES (?, ?, 'm', 200, 'ok', ?)");
  for (let i = 0; i < 4; i++) insert.run(1000 + i, `r${i}`, 100 + i);

  const reader = new Database(path, { readonly: true, strict: true });
  // The proxy writes while `/usage` reads (WAL): here the write lands after the first statement ran.
  let statements = 0;
  const query = reader.query.bind(reader);
  reader.query = ((sql: string) => {
    if (++statements === 2) for (let i = 0; i < 8; i++) insert.run(2000 + i, `late${i}`, 1);
    return query(sql);
  }) as typeof reader.query;

  expect(queryUsageFile(reader, { from: 0, to: 10_000 }, "model")).toEqual([
    { key: "m", requests: 4, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: null, p50Ms: 101, p95Ms: 103 },
  ]);
  expect(statements).toBe(2);
  reader.close();
  writer.close();
});
