import { RedisUnavailableError, Script, type RedisLink } from "../cluster/redis-link";
import source from "./limits.lua" with { type: "text" };
import { windowOf } from "./calendar";
import { amountFor, periodOf, type LimitRule, type Spent } from "./rules";
import type { LimitCounters, RuleResult } from "./counters";
import type { LimitKind } from "../model/limits";

/** Every key this proxy writes starts with this. */
export const KEY_PREFIX = "cm-proxy:";

const LIMITS = new Script(source);

/** How long the concurrency slots of an instance that stopped renewing them keep counting. */
const DEFAULT_LEASE_MS = 30_000;

/** Counters with a charge waiting for Redis to come back; past this many, new ones are dropped. */
const MAX_UNSENT_COUNTERS = 100_000;

/** What one counter is still owed: the sum of charges that could not be sent, dated by the last of them. */
interface Unsent {
  readonly kind: LimitKind;
  readonly limit: number;
  amount: number;
  now: number;
}

export interface RedisLimitStoreOptions {
  /** The lease of this instance's concurrency slots (renewed every third of it while it holds any). */
  readonly leaseMs?: number;
  /** Names this instance's slots in Redis (default: a random id per process). */
  readonly instance?: string;
}

/**
 * The counters of every limit in Redis, shared by all instances: each call is one atomic round trip
 * (a Lua script, limits.lua, that implements the arithmetic of evaluate.ts and gcra.ts for all the
 * request's rules at once). Limits are computed on the callers' clocks (`now` from each instance:
 * instances agree within their clock skew); concurrency leases use Redis' clock.
 *
 * Concurrency slots are counted per instance under a lease that the instance renews while it holds
 * any: when an instance dies without releasing its slots, they stop counting once its lease runs out
 * (30 s), instead of blocking the limit until the key idles out. The renewal also writes the slots
 * the instance knows it holds, which repairs its count after Redis lost it (a restart) or after an
 * answer lost with a connection.
 *
 * Errors reaching Redis reject (RedisUnavailableError) at once while it is down: the Limiter's
 * `failMode` then decides. A charge that could not even be sent (no connection) is kept, summed per
 * counter, and sent after the next command that gets through, so tokens and dollars spent while
 * Redis was away still count. One that was sent and went unanswered is not sent again: it may
 * have run, and a charge is not idempotent.
 */
export class RedisCounters implements LimitCounters {
  private readonly instance: string;
  private readonly leaseMs: number;
  /** Slots this instance holds, by Redis key; a key stays (at 0) until a renewal has written the 0. */
  private readonly held = new Map<string, number>();
  /** Admissions under way, by key: their outcome is unknown, so a renewal leaves that key's count alone. */
  private readonly pending = new Map<string, number>();
  private renewTimer: Timer | null = null;
  private closed = false;
  /** Charges that never reached Redis, by counter key. */
  private readonly unsent = new Map<string, Unsent>();
  private sendingUnsent = false;

  constructor(
    private readonly link: RedisLink,
    options: RedisLimitStoreOptions = {},
  ) {
    this.instance = options.instance ?? crypto.randomUUID();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async admit(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
    if (rules.length === 0) return [];
    const slots = rules.filter((rule) => rule.kind === "concurrent").map(keyOf);
    for (const key of slots) this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    let reply: string[];
    try {
      reply = (await this.link.run(LIMITS, rules.map(keyOf), ["admit", now, this.instance, this.leaseMs, ...ruleArgs(rules)])) as string[];
    } finally {
      for (const key of slots) {
        const left = (this.pending.get(key) ?? 1) - 1;
        if (left > 0) this.pending.set(key, left);
        else this.pending.delete(key);
      }
    }
    if (reply[0] === "1" && slots.length > 0) {
      for (const key of slots) this.held.set(key, (this.held.get(key) ?? 0) + 1);
      this.scheduleRenewal();
    }
    this.sendUnsent();
    return results(rules, reply);
  }

  async release(rules: readonly LimitRule[]): Promise<void> {
    const slots = rules.filter((rule) => rule.kind === "concurrent").map(keyOf);
    if (slots.length === 0) return;
    // Counted down before sending: a renewal sent after this sees the new count, and Redis runs them in order.
    for (const key of slots) {
      const held = this.held.get(key);
      if (held !== undefined) this.held.set(key, Math.max(0, held - 1));
    }
    await this.link.run(LIMITS, slots, ["release", this.instance]);
  }

  async charge(rules: readonly LimitRule[], spent: Spent, now: number): Promise<void> {
    const charged = rules.flatMap((rule) => {
      const amount = amountFor(rule.kind, spent);
      return amount > 0 ? [{ rule, amount }] : [];
    });
    if (charged.length === 0) return;
    const args = charged.flatMap(({ rule, amount }) => [rule.kind, String(rule.limit), String(amount)]);
    try {
      await this.link.run(
        LIMITS,
        charged.map(({ rule }) => keyOf(rule)),
        ["charge", now, ...args],
      );
    } catch (error) {
      if (error instanceof RedisUnavailableError && !error.sent) {
        for (const { rule, amount } of charged) this.keepUnsent(keyOf(rule), rule.kind, rule.limit, amount, now);
      }
      throw error;
    }
    this.sendUnsent();
  }

  /**
   * Adds a charge that never reached Redis to what its counter is owed. Summed under the latest
   * date: within one window that is what the window is owed; a token rate charged a little late
   * counts a little longer; a daily or monthly window that has given way to the next keeps only
   * what was spent in the new one (a finished window's spend no longer limits anything).
   */
  private keepUnsent(key: string, kind: LimitKind, limit: number, amount: number, now: number): void {
    const owed = this.unsent.get(key);
    if (!owed) {
      if (this.unsent.size < MAX_UNSENT_COUNTERS) this.unsent.set(key, { kind, limit, amount, now });
      return;
    }
    const period = periodOf(kind);
    if (period) {
      const [owedWindow, window] = [windowOf(period, owed.now), windowOf(period, now)];
      if (window < owedWindow) return; // spent in a window already over
      if (window > owedWindow) owed.amount = 0;
    }
    owed.amount += amount;
    owed.now = Math.max(owed.now, now);
  }

  /** Sends what is owed, one counter at a time, once a command has got through; stops at the first that cannot be sent. */
  private sendUnsent(): void {
    if (this.unsent.size === 0 || this.sendingUnsent) return;
    this.sendingUnsent = true;
    void (async () => {
      try {
        for (const [key, owed] of [...this.unsent]) {
          this.unsent.delete(key);
          try {
            await this.link.run(LIMITS, [key], ["charge", owed.now, owed.kind, String(owed.limit), String(owed.amount)]);
          } catch (error) {
            if (error instanceof RedisUnavailableError && !error.sent) {
              this.keepUnsent(key, owed.kind, owed.limit, owed.amount, owed.now);
              return;
            }
            // Sent and unanswered (it may have run), or refused: not sent again.
          }
        }
      } finally {
        this.sendingUnsent = false;
      }
    })();
  }

  async peek(rules: readonly LimitRule[], now: number): Promise<RuleResult[]> {
    if (rules.length === 0) return [];
    const reply = (await this.link.run(LIMITS, rules.map(keyOf), ["peek", now, this.instance, this.leaseMs, ...ruleArgs(rules)])) as string[];
    this.sendUnsent();
    return results(rules, reply);
  }

  /** Stops renewing; the link is closed by whoever opened it. Slots still held expire with their lease. */
  close(): void {
    this.closed = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
  }

  /** Renews this instance's lease (and rewrites its counts) every third of the lease while it holds any slot. */
  private scheduleRenewal(): void {
    if (this.renewTimer || this.closed) return;
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      void this.renew()
        .catch(() => {}) // an unexpected answer: the next renewal tries again
        .finally(() => {
          if (this.held.size > 0) this.scheduleRenewal();
        });
    }, this.leaseMs / 3);
    this.renewTimer.unref?.();
  }

  /** One renewal now (exposed for tests). */
  async renew(): Promise<void> {
    if (this.held.size === 0) return;
    const keys = [...this.held.keys()];
    const counts = keys.map((key) => (this.pending.has(key) ? "-" : String(this.held.get(key) ?? 0)));
    try {
      await this.link.run(LIMITS, keys, ["renew", this.instance, this.leaseMs, ...counts]);
    } catch (error) {
      if (error instanceof RedisUnavailableError) return; // the next renewal repairs it
      throw error;
    }
    // Written: the keys at 0 with nothing under way are done.
    for (const key of keys) if (this.held.get(key) === 0 && !this.pending.has(key)) this.held.delete(key);
  }
}

const keyOf = (rule: LimitRule) => KEY_PREFIX + rule.key;

const ruleArgs = (rules: readonly LimitRule[]) => rules.flatMap((rule) => [rule.kind, String(rule.limit)]);

function results(rules: readonly LimitRule[], reply: readonly string[]): RuleResult[] {
  if (!Array.isArray(reply) || reply.length !== 1 + rules.length * 5) throw new Error(`unexpected answer from the limits script: ${JSON.stringify(reply)}`);
  return rules.map((rule, i) => ({
    rule,
    allowed: reply[1 + i * 5] === "1",
    remaining: Number(reply[2 + i * 5]),
    used: Number(reply[3 + i * 5]),
    resetMs: Number(reply[4 + i * 5]),
    retryAfterMs: Number(reply[5 + i * 5]),
  }));
}
