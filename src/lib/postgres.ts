// What every PostgreSQL user here needs from Bun's client: which errors mean the server is away,
// and a pool that is replaced when a statement goes unanswered.
import type { SQL } from "bun";
import { withDeadline } from "./deadline";

/** The SQLSTATE a server error carries (none for errors Bun raises itself: refused, closed, timed out). */
export const sqlStateOf = (error: unknown): string | null => {
  const state = (error as { errno?: unknown })?.errno;
  return typeof state === "string" ? state : null;
};

/** The server could not be reached or went away (not an error in the statement itself). */
export const isOutage = (error: unknown) => {
  const state = sqlStateOf(error);
  return state === null || /^(08|53|57|58)/.test(state);
};

/**
 * A pool of Bun's SQL client that a hung statement replaces: a server the network cut off keeps
 * its connections open and answers nothing, so a pool that waited once would wait for ever.
 */
export class ReplaceablePool {
  /** The pool in use now: read it for each statement (it may have been replaced since). */
  sql: SQL;
  /** Host, port and database, for log lines: never the URL (it may hold a password). */
  readonly where: string;

  /** Opens the first pool with `connect` (which throws on a URL Bun cannot use), and each replacement. */
  constructor(private readonly connect: () => SQL) {
    this.sql = connect();
    const { hostname, port, database, path } = this.sql.options as { hostname?: string; port?: number; database?: string; path?: string };
    this.where = `PostgreSQL at ${path ?? `${hostname}:${port}`}/${database}`;
  }

  /** Settles like `work`, unless it goes unanswered for `ms`: then the pool is replaced and this rejects with `timedOut()`. */
  answered<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
    return withDeadline(work, ms, () => {
      const hung = this.sql;
      this.sql = this.connect();
      void hung.close({ timeout: 0 }).catch(() => {});
      throw timedOut();
    });
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 1 }).catch(() => {});
  }
}
