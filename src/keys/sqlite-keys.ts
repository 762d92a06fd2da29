import { Database } from "bun:sqlite";
import type { KeyChanges, KeyRow } from "./key-row";
import { DuplicateKeyName, insertValues, KeyStoreUnavailable, keyTableColumns, rowOf, setClause, type KeyTable } from "./key-table";

const TABLE = "keys";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${TABLE} (${keyTableColumns("INTEGER")}
);
CREATE UNIQUE INDEX IF NOT EXISTS keys_live_name ON ${TABLE} (name) WHERE status <> 'revoked';
`;

/** One writer at a time in SQLite: the next version is the largest so far plus one. */
const NEXT_VERSION = `(SELECT coalesce(max(version), 0) + 1 FROM ${TABLE})`;

const codeOf = (error: unknown) => String((error as { code?: unknown })?.code ?? "");
const isUnique = (error: unknown) => codeOf(error).startsWith("SQLITE_CONSTRAINT");

/** A write that met another process's lock for longer than the busy timeout: try again later. */
function failure(error: unknown): unknown {
  const code = codeOf(error);
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED") ? new KeyStoreUnavailable(`the file is locked (${code})`) : error;
}

/**
 * The `keys` table in the usage file, on a connection of its own (the file is in WAL mode, so the
 * usage writer and this one do not block each other's reads). Statements are synchronous and
 * small; they run for admin calls and the sync, never for a model request.
 */
export class SqliteKeyTable implements KeyTable {
  private constructor(
    private readonly db: Database,
    readonly where: string,
  ) {}

  /** Opens the file the usage store already opened (it exists, in WAL mode) and creates the table. */
  static open(path: string): SqliteKeyTable {
    const db = new Database(path, { strict: true });
    try {
      // A short wait for the usage writer's lock: its transactions are brief.
      db.exec("PRAGMA busy_timeout = 500");
      db.exec(SCHEMA);
    } catch (error) {
      db.close(false);
      throw error;
    }
    return new SqliteKeyTable(db, path);
  }

  async ready(): Promise<void> {}

  async all(): Promise<KeyRow[]> {
    return (this.db.query(`SELECT * FROM ${TABLE} ORDER BY created_at, id`).all() as Record<string, unknown>[]).map(rowOf);
  }

  async get(id: string): Promise<KeyRow | null> {
    const row = this.db.query(`SELECT * FROM ${TABLE} WHERE id = ?`).get(id) as Record<string, unknown> | null;
    return row ? rowOf(row) : null;
  }

  async fingerprint(): Promise<string> {
    const { rows, versions } = this.db.query(`SELECT count(*) AS rows, coalesce(sum(version), 0) AS versions FROM ${TABLE}`).get() as {
      rows: number;
      versions: number;
    };
    return `${rows}:${versions}`;
  }

  async insert(row: KeyRow): Promise<void> {
    const { columns, values } = insertValues(row);
    try {
      this.db.query(`INSERT INTO ${TABLE} (${columns.join(", ")}, version) VALUES (${columns.map(() => "?").join(", ")}, ${NEXT_VERSION})`).run(...values);
    } catch (error) {
      if (isUnique(error)) throw new DuplicateKeyName(row.name);
      throw failure(error);
    }
  }

  async update(id: string, changes: KeyChanges, now: number, ifDigest?: string): Promise<KeyRow | null> {
    const { sql, values } = setClause(changes, now, () => "?");
    const digestIs = ifDigest === undefined ? "" : " AND digest = ?";
    let changed: number;
    try {
      changed = this.db
        .query(`UPDATE ${TABLE} SET ${sql}, version = ${NEXT_VERSION} WHERE id = ? AND status <> 'revoked'${digestIs}`)
        .run(...values, id, ...(ifDigest === undefined ? [] : [ifDigest])).changes;
    } catch (error) {
      if (isUnique(error) && changes.name !== undefined) throw new DuplicateKeyName(changes.name);
      throw failure(error);
    }
    return changed > 0 ? this.get(id) : null;
  }

  async touch(used: ReadonlyMap<string, number>): Promise<void> {
    const statement = this.db.query(`UPDATE ${TABLE} SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`);
    try {
      this.db.transaction(() => {
        for (const [id, at] of used) statement.run(at, id);
      })();
    } catch (error) {
      throw failure(error);
    }
  }

  async close(): Promise<void> {
    this.db.close(false);
  }
}
