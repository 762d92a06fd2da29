import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageQueryThread } from "./sqlite-query-thread";
import { emptyUsageFile } from "../../../test/support/usage-records";

const dir = mkdtempSync(join(tmpdir(), "cm-owp-usage-thread-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const threads: UsageQueryThread[] = [];
afterEach(() => {
  for (const thread of threads.splice(0)) thread.close();
});
const thread = (path: string, code?: URL) => {
  const made = new UsageQueryThread(path, code);
  threads.push(made);
  return made;
};

const EVERYTHING = { from: 0, to: Date.now() + 86_400_000 };

/** A usage file (made by the store, so the schema is the real one) holding `count` rows of model "m". */
async function usageFile(name: string, count: number): Promise<string> {
  const path = await emptyUsageFile(join(dir, name));
  const db = new Database(path);
  db.exec("BEGIN");
  const insert = db.prepare("INSERT INTO usage (ts, request_id, model, status, outcome, prompt_tokens, duration_ms) VALUES (?, ?, 'm', 200, 'ok', 1, ?)");
  const now = Date.now();
  for (let i = 0; i < count; i++) insert.run(now - i, `r${i}`, i % 1000);
  db.exec("COMMIT");
  db.close();
  return path;
}

describe("UsageQueryThread", () => {
  test("answers from the file on another thread: the event loop keeps turning while a query over many rows runs", async () => {
    const path = await usageFile("many.db", 200_000);
    const queries = thread(path);
    let turns = 0;
    let answered = false;
    const answer = queries.query(EVERYTHING, "model").finally(() => (answered = true));
    const turn = () => {
      turns++;
      if (!answered) setImmediate(turn);
    };
    setImmediate(turn);
    expect(await answer).toEqual([
      { key: "m", requests: 200_000, errors: 0, promptTokens: 200_000, completionTokens: 0, totalTokens: 0, costUsd: null, p50Ms: 499, p95Ms: 949 },
    ]);
    // On the main thread the query would be one synchronous stretch: not a single turn in between.
    expect(turns).toBeGreaterThan(10);
  });

  test("concurrent queries each get their own answer", async () => {
    const path = await usageFile("few.db", 10);
    const queries = thread(path);
    const [byModel, byDay, none] = await Promise.all([
      queries.query(EVERYTHING, "model"),
      queries.query(EVERYTHING, "day"),
      queries.query({ from: 0, to: 1 }, "model"),
    ]);
    expect(byModel.map((group) => [group.key, group.requests])).toEqual([["m", 10]]);
    expect(byDay.reduce((sum, group) => sum + group.requests, 0)).toBe(10);
    expect(none).toEqual([]);
  });

  test("a file that cannot be read, or is missing, rejects the query with SQLite's reason", async () => {
    const notADatabase = join(dir, "garbage.db");
    writeFileSync(notADatabase, "this is not a database, just text long enough to be read as a header ".repeat(20));
    await expect(thread(notADatabase).query(EVERYTHING, "model")).rejects.toThrow(/not a database/);
    const missing = thread(join(dir, "missing.db"));
    await expect(missing.query(EVERYTHING, "model")).rejects.toThrow(/unable to open|no such/i);
  });

  test("a thread that dies fails its queries with a clear error and does not take the process with it", async () => {
    const broken = join(dir, "broken-worker.ts");
    writeFileSync(broken, 'throw new Error("the worker broke at start");\n');
    await expect(thread(join(dir, "x.db"), pathToFileURL(broken)).query(EVERYTHING, "model")).rejects.toThrow(
      /usage query thread failed.*the worker broke at start/,
    );
  });

  test("close rejects what waits", async () => {
    const queries = thread(await usageFile("closing.db", 1000));
    const waiting = queries.query(EVERYTHING, "model");
    queries.close();
    await expect(waiting).rejects.toThrow("the usage store is closed");
  });
});
