// A client key issued at runtime, as the key table holds it: never its secret, only the secret's digest.
import type { LimitSet } from "../model/limits";

/** What the table stores; `expired` is never stored: it is read off the clock (see `statusAt`). */
export type StoredStatus = "active" | "blocked" | "revoked";
export type KeyStatus = StoredStatus | "expired";

export interface KeyRow {
  /** `key_` and 16 hex digits: usage rows name the key by it (`key_id`), so a rename keeps its history. */
  readonly id: string;
  readonly name: string;
  /** SHA-256 of the secret, hex. */
  readonly digest: string;
  /** The secret's first characters, to tell keys apart in a list. */
  readonly prefix: string;
  /** Model ids or globs this key may use; null: every model. */
  readonly models: readonly string[] | null;
  readonly limits: LimitSet | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly status: StoredStatus;
  /** ms since the epoch; null: never expires. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastUsedAt: number | null;
  /** After a rotation: the former secret's digest, accepted until `previousUntil`. */
  readonly previousDigest: string | null;
  readonly previousUntil: number | null;
}

/** The fields an admin call (or a rotation) may change. */
export type KeyChanges = Partial<
  Pick<KeyRow, "name" | "models" | "limits" | "metadata" | "status" | "expiresAt" | "digest" | "prefix" | "previousDigest" | "previousUntil">
>;

export const SECRET_PREFIX = "sk-cm-";
/** Random bytes in a secret: 256 bits. */
const SECRET_BYTES = 32;
/** Characters of the secret a list shows: the fixed prefix and four of the random part (24 bits of 256). */
const SHOWN_CHARS = SECRET_PREFIX.length + 4;

/** A new secret: `sk-cm-` and 32 random bytes, URL-safe base64 without padding. */
export function newSecret(): string {
  return SECRET_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(SECRET_BYTES))).toString("base64url");
}

export const newKeyId = () => `key_${Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex")}`;

/** Whether `id` has the shape `newKeyId` gives: any other names no key, and need not be looked up. */
export const isKeyId = (id: string) => /^key_[0-9a-f]{16}$/.test(id);

export const prefixOf = (secret: string) => `${secret.slice(0, SHOWN_CHARS)}…`;

/** A digest's bytes as the table's hex text. */
export const hexOf = (digest: Uint8Array) => Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("hex");

/** The status a key has at `now`: a key past its `expiresAt` is expired unless it was revoked. */
export function statusAt(row: Pick<KeyRow, "status" | "expiresAt">, now: number): KeyStatus {
  if (row.status === "revoked") return "revoked";
  if (row.expiresAt !== null && now >= row.expiresAt) return "expired";
  return row.status;
}
