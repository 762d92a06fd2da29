// What every key table (SQLite, PostgreSQL) promises about a revoked key, checked on each with the
// table itself: the admin API checks a key's status before it changes it, and another instance may
// revoke the key between that check and the change.
import { expect } from "bun:test";
import type { KeyRow } from "../../src/keys/key-row";
import type { KeyTable } from "../../src/keys/key-table";

export async function expectRevokedKeysStayRevoked(table: KeyTable): Promise<void> {
  const now = Date.now();
  const id = `key_${Bun.randomUUIDv7().replaceAll("-", "").slice(-16)}`;
  const row: KeyRow = {
    id,
    name: `race-${id}`,
    digest: "a".repeat(64),
    prefix: "ck-race",
    models: null,
    limits: null,
    metadata: null,
    status: "active",
    expiresAt: null,
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    previousDigest: null,
    previousUntil: null,
  };
  await table.insert(row);
  expect(await table.update(id, { status: "revoked", previousDigest: null, previousUntil: null }, now)).toMatchObject({ status: "revoked" });
  // A change and a rotation that passed their check before the revocation landed.
  expect(await table.update(id, { status: "active" }, now)).toBeNull();
  expect(await table.update(id, { digest: "b".repeat(64), previousDigest: row.digest, previousUntil: now + 60_000 }, now)).toBeNull();
  expect(await table.get(id)).toMatchObject({ status: "revoked", digest: row.digest, previousDigest: null });
}
