// The thread that answers `/usage` from the SQLite file (see UsageQueryThread): a query over
// months of rows takes seconds of CPU, which on the main thread would hold up every request.
// It reads through its own read-only connection; WAL lets it read while the proxy writes.
import { Database } from "bun:sqlite";
import { queryUsageFile } from "./sqlite-query";
import type { UsageQueryAnswer, UsageQueryRequest } from "./sqlite-query-thread";

declare const self: Worker;

const files = new Map<string, Database>();

self.onmessage = ({ data }: MessageEvent<UsageQueryRequest>) => {
  let answer: UsageQueryAnswer;
  try {
    let db = files.get(data.path);
    if (!db) files.set(data.path, (db = new Database(data.path, { readonly: true, strict: true })));
    answer = { id: data.id, groups: queryUsageFile(db, data.range, data.groupBy) };
  } catch (error) {
    answer = { id: data.id, error: (error as Error)?.message ?? String(error) };
  }
  postMessage(answer);
};
