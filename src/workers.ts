// Where each worker thread's code is. This file sits at the root of `src/` on purpose: the
// compiled binary stores every entry point (see WORKERS in the Makefile) under its path from
// `src/`, and resolves a worker against the binary's own URL, while `bun src/cli.ts` and the tests
// resolve it against this file. From here the same relative path is right in both.

export const USAGE_QUERY_WORKER = new URL("./observe/usage/sqlite-query-worker.ts", import.meta.url);
