// Signed thinking kept in Redis (`state.redis`), so the next turn of a tool loop finds it on
// whichever instance it lands.
import type { RedisLink } from "../../cluster/redis-link";
import { withDeadline } from "../../lib/deadline";
import type { SharedThinking } from "./thinking-store";
import type { ReplayedThinking } from "./types";

/** A lookup waits at most this long: past it the turn goes without thinking rather than wait on Redis. */
const LOAD_WAIT_MS = 250;
/** Tool-call ids come from clients: longer ones are not worth a key. */
const MAX_ID_LENGTH = 256;

const keyOf = (id: string) => `cm-proxy:thinking:${id}`;

interface StoredTurn {
  readonly ids: readonly string[];
  readonly blocks: readonly ReplayedThinking[];
}

const isTurn = (value: unknown): value is StoredTurn =>
  typeof value === "object" && value !== null && Array.isArray((value as StoredTurn).ids) && Array.isArray((value as StoredTurn).blocks);

export function redisThinking(link: RedisLink): SharedThinking {
  return {
    save(ids, blocks, ttlMs) {
      const value = JSON.stringify({ ids, blocks });
      for (const id of ids) {
        // Redis away: this instance still has the turn in memory (the link logs the outage once).
        if (id.length <= MAX_ID_LENGTH) link.send("SET", [keyOf(id), value, "PX", String(ttlMs)]).catch(() => {});
      }
    },
    async load(id) {
      if (id.length > MAX_ID_LENGTH) return null;
      const read = link.send("GET", [keyOf(id)]).then(
        (text) => {
          if (typeof text !== "string") return null;
          const value: unknown = JSON.parse(text);
          return isTurn(value) ? value : null;
        },
        () => null,
      );
      return withDeadline(read, LOAD_WAIT_MS, () => null);
    },
  };
}
