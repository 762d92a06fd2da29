import type { LimitKind, LimitScope, LimitSet } from "../model/limits";

/** One limit that applies to one request: a kind, for one subject (a key name, a user, a model). */
export interface LimitRule {
  readonly scope: LimitScope;
  readonly kind: LimitKind;
  readonly subject: string;
  readonly limit: number;
  /** The counter's name in the state store: never a key, only configured names and ids. */
  readonly key: string;
}

export const KINDS: readonly LimitKind[] = ["rpm", "tpm", "concurrent", "tokensPerDay"];

/** `counted`: what the counters are named by when it is not the subject (an issued key's id, which a rename keeps). */
export function rulesFor(scope: LimitScope, subject: string, set: LimitSet | undefined, into: LimitRule[], counted = subject): void {
  if (!set) return;
  for (const kind of KINDS) {
    const limit = set[kind];
    if (limit !== undefined) into.push({ scope, kind, subject, limit, key: `${scope}:${kind}:${counted}` });
  }
}

/** Token limits are spent when the usage is known (request limits when admitted). */
export const spentOnUsage = (kind: LimitKind) => kind === "tpm" || kind === "tokensPerDay";
