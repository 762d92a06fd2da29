import { SQL } from "bun";
import { messageOf } from "../lib/error-message";
import { isOutage, ReplaceablePool, sqlStateOf } from "../lib/postgres";
import type { KeyChanges, KeyRow } from "./key-row";
import { DuplicateKeyName, insertValues, KeyStoreUnavailable, keyTableColumns, rowOf, setClause, type KeyTable } from "./key-table";

/** The one table every instance reads its issued keys from. */
export const KEYS_TABLE = "cm_proxy_keys";
const VERSIONS = `${KEYS_TABLE}_version`;

/** Created when missing by whichever instance comes first; the advisory lock keeps two from racing on it. */
const SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS ${VERSIONS};
CREATE TABLE IF NOT EXISTS ${KEYS_TABLE} (${keyTableColumns("BIGINT")}
);
CREATE UNIQUE INDEX IF NOT EXISTS ${KEYS_TABLE}_live_name ON ${KEYS_TABLE} (name) WHERE status <> 'revoked';
COMMENT ON TABLE ${KEYS_TABLE} IS 'cm-open-webui-proxy: client keys issued at runtime (SHA-256 digests, never secrets; times in ms since the epoch, UTC)';
`;

/** How long a statement may go unanswered before the server counts as away (the network may have cut it off, connections open). */
const ANSWER_TIMEOUT_MS = 5000;

/**
 * Issued keys in PostgreSQL's `cm_proxy_keys`, shared by every instance that names the same
 * `usage.postgres` (a pool of its own, two connections). A server that is away, or leaves a
 * statement unanswered for ANSWER_TIMEOUT_MS (the pool is then replaced: its connections may hang),
 * makes every call reject with KeyStoreUnavailable; the keys already loaded keep working meanwhile.
 */
export class PostgresKeyTable implements KeyTable {
  private schemaReady = false;

  readonly where: string;

  private constructor(private readonly pool: ReplaceablePool) {
    this.where = `${pool.where}, table ${KEYS_TABLE}`;
  }

  /** Never waits for the server. `url` was checked by the usage store, which opened first. */
  static open(url: string): PostgresKeyTable {
    const own = new URL(url).searchParams;
    return new PostgresKeyTable(
      new ReplaceablePool(() => new SQL(url, { ...(!own.has("max") && { max: 2 }), ...(!own.has("connect_timeout") && { connectionTimeout: 5 }) })),
    );
  }

  async ready(): Promise<void> {
    if (this.schemaReady) return;
    await this.run(() =>
      this.pool.sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${KEYS_TABLE}))`;
        await tx.unsafe(SCHEMA);
      }),
    );
    this.schemaReady = true;
  }

  async all(): Promise<KeyRow[]> {
    const rows = await this.query(`SELECT * FROM ${KEYS_TABLE} ORDER BY created_at, id`, []);
    return rows.map(rowOf);
  }

  async get(id: string): Promise<KeyRow | null> {
    const [row] = await this.query(`SELECT * FROM ${KEYS_TABLE} WHERE id = $1`, [id]);
    return row ? rowOf(row) : null;
  }

  async fingerprint(): Promise<string> {
    const [row] = await this.query(`SELECT count(*) AS rows, coalesce(sum(version), 0) AS versions FROM ${KEYS_TABLE}`, []);
    return `${row!.rows}:${row!.versions}`;
  }

  async insert(row: KeyRow): Promise<void> {
    const { columns, values } = insertValues(row);
    const placeholders = values.map((_, i) => `$${i + 1}`).join(", ");
    await this.query(`INSERT INTO ${KEYS_TABLE} (${columns.join(", ")}, version) VALUES (${placeholders}, nextval('${VERSIONS}'))`, values, row.name);
  }

  async update(id: string, changes: KeyChanges, now: number, ifDigest?: string): Promise<KeyRow | null> {
    const { sql, values } = setClause(changes, now, (index) => `$${index}`);
    const digestIs = ifDigest === undefined ? "" : ` AND digest = $${values.length + 2}`;
    const [row] = await this.query(
      `UPDATE ${KEYS_TABLE} SET ${sql}, version = nextval('${VERSIONS}') WHERE id = $${values.length + 1} AND status <> 'revoked'${digestIs} RETURNING *`,
      [...values, id, ...(ifDigest === undefined ? [] : [ifDigest])],
      changes.name,
    );
    return row ? rowOf(row) : null;
  }

  async touch(used: ReadonlyMap<string, number>): Promise<void> {
    const values: (string | number)[] = [];
    const pairs: string[] = [];
    for (const [id, at] of used) {
      values.push(id, at);
      pairs.push(`($${values.length - 1}, $${values.length}::bigint)`);
    }
    await this.query(
      `UPDATE ${KEYS_TABLE} AS k SET last_used_at = greatest(coalesce(k.last_used_at, 0), u.at)
       FROM (VALUES ${pairs.join(", ")}) AS u(id, at) WHERE k.id = u.id`,
      values,
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** A statement, once the table exists; a unique violation on `name` is a DuplicateKeyName. */
  private async query(text: string, values: unknown[], name?: string): Promise<Record<string, unknown>[]> {
    await this.ready();
    try {
      return await this.run(() => this.pool.sql.unsafe(text, values));
    } catch (error) {
      if (sqlStateOf(error) === "23505" && name !== undefined) throw new DuplicateKeyName(name);
      if (sqlStateOf(error) === "42P01") this.schemaReady = false; // dropped under us: created again next time
      throw error;
    }
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.pool.answered(work(), ANSWER_TIMEOUT_MS, () => new KeyStoreUnavailable(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`));
    } catch (error) {
      if (error instanceof KeyStoreUnavailable) throw error;
      if (isOutage(error)) throw new KeyStoreUnavailable(messageOf(error));
      throw error;
    }
  }
}
