// What every key table (SQLite, PostgreSQL) promises about changes that race, checked on each with
// the table itself: the admin API reads a key before it changes it, and another request or instance
// may revoke or rotate the key between that read and the change.
import { expect } from "bun:test";
import type { KeyRow } from "../../src/keys/key-row";
import type { KeyTable } from "../../src/keys/key-table";

/** A digest no other row has (digests are unique). */
const randomDigest = () => crypto.randomUUID().replaceAll("-", "").repeat(2);

/** An active key with this id, as the admin API would have stored it. */
function rowNamed(id: string, now = Date.now()): KeyRow {
  return {
    id,
    name: `race-${id}`,
    digest: randomDigest(),
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
}

export async function expectRevokedKeysStayRevoked(table: KeyTable): Promise<void> {
  const now = Date.now();
  const id = `key_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const row = rowNamed(id, now);
  await table.insert(row);
  expect(await table.update(id, { status: "revoked", previousDigest: null, previousUntil: null }, now)).toMatchObject({ status: "revoked" });
  // A change and a rotation that passed their check before the revocation landed.
  expect(await table.update(id, { status: "active" }, now)).toBeNull();
  expect(await table.update(id, { digest: randomDigest(), previousDigest: row.digest, previousUntil: now + 60_000 }, now)).toBeNull();
  expect(await table.get(id)).toMatchObject({ status: "revoked", digest: row.digest, previousDigest: null });
}

/** Two rotations that read the same key: only the first changes it; the second, conditional on the secret it read, finds it changed. */
export async function expectRotationsNotToRace(table: KeyTable): Promise<void> {
  const now = Date.now();
  const id = `key_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const row = rowNamed(id, now);
  await table.insert(row);
  const first = { digest: randomDigest(), previousDigest: row.digest, previousUntil: now + 60_000 };
  const second = { digest: randomDigest(), previousDigest: row.digest, previousUntil: now + 60_000 };
  expect(await table.update(id, first, now, row.digest)).toMatchObject(first);
  expect(await table.update(id, second, now, row.digest)).toBeNull();
  expect(await table.get(id)).toMatchObject(first);
}
