// Compiling the proxy into one binary the way `make build` does (the Makefile's BUILD_FLAGS and
// WORKERS), for the tests that run what is shipped.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, CLI_ENTRY, REPO_ROOT, cleanEnv, runToExit, type Finished } from "./process";

const makefileValue = (name: string) =>
  new RegExp(`^${name}\\s*:?=\\s*(.+)$`, "m")
    .exec(readFileSync(join(REPO_ROOT, "Makefile"), "utf8"))?.[1]
    ?.trim()
    .split(/\s+/);

/** The Makefile's `make build` flags, so the test compiles what is shipped (falls back to plain --compile). */
export function buildFlags(): string[] {
  const flags = makefileValue("BUILD_FLAGS");
  return flags && flags.includes("--compile") ? flags : ["--compile"];
}

/** The worker threads' entry points `make build` compiles in beside the CLI. */
export const workerEntries = () => (makefileValue("WORKERS") ?? []).map((file) => join(REPO_ROOT, file));

/** Compiles the CLI (and its workers) to `outfile` with `make build`'s flags, within `ms`. */
export function buildBinary(outfile: string, ms = 170_000): Promise<Finished> {
  return runToExit([BUN, "build", CLI_ENTRY, ...workerEntries(), ...buildFlags(), "--outfile", outfile], { cwd: REPO_ROOT, env: cleanEnv() }, ms);
}
