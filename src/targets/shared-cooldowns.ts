import type { Logger } from "../lib/log";
import { RedisUnavailableError, Script, type RedisLink } from "../cluster/redis-link";
import type { TargetStates } from "./target-states";
import { learnBack, learnOut } from "./breaker";
import type { CooldownListener, TargetState } from "./target-state";

/** Where cool-downs are announced, and the prefix of the keys that hold the current ones. */
export const COOLDOWN_CHANNEL = "cm-proxy:cooldowns";
export const COOLDOWN_KEY_PREFIX = "cm-proxy:cooldown:";

/** What instances tell each other about a target. */
export interface CooldownMessage {
  /** "out": taken out (or held longer); "back": up again after a successful trial or health check. */
  readonly op: "out" | "back";
  /** The target's state key (model id and target name) and URL: a report applies to the same backend only. */
  readonly key: string;
  readonly url: string;
  /** "out": how long it stays out from when it was sent (a duration, so clocks need not agree). */
  readonly leftMs?: number;
  /** "out": the cool-down's length (the breaker doubles it after a failed trial). */
  readonly ms?: number;
  /** When it was sent (the sender's clock): a "back" ends only cool-downs that began before it. */
  readonly at: number;
  /** The instance that sent it: its own messages come back to it and are skipped. */
  readonly from: string;
}

/**
 * Sets (for "out", keeping the later end) or deletes (for "back") the key holding a target's
 * current cool-down, and announces it, in one step. KEYS[1]: the target's key. ARGV: channel, op,
 * message, leftMs.
 */
const PUBLISH = new Script(`
if ARGV[2] == 'out' then
  local left = tonumber(ARGV[4])
  if redis.call('PTTL', KEYS[1]) < left then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
else
  redis.call('DEL', KEYS[1])
end
return redis.call('PUBLISH', ARGV[1], ARGV[3])
`);

/** Every current cool-down with the ms it has left: {message, pttl, ...}. ARGV[1]: the key pattern. */
const CURRENT = new Script(`
local out, cursor = {}, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local message, left = redis.call('GET', key), redis.call('PTTL', key)
    if message and left > 0 then
      out[#out + 1] = message
      out[#out + 1] = tostring(left)
    end
  end
until cursor == '0'
return out
`);

/** The command connection may come back a moment after the subscription: catching up waits for it this long. */
const CATCH_UP_TRIES = 20;
const CATCH_UP_RETRY_MS = 250;

export const cooldownKey = (stateKey: string) => COOLDOWN_KEY_PREFIX + encodeURIComponent(stateKey);

/**
 * Target cool-downs shared by every instance on one Redis. When this instance takes a target out
 * (failures reaching the threshold, a Retry-After, a failed health check) it publishes the
 * cool-down; when a target comes back (a successful half-open trial or health check) it publishes
 * that too, so the others end their cool-down early. Every instance subscribes and applies what
 * the others publish to its own TargetState, taking the later end; the current cool-downs are also
 * kept as keys (expiring with them), read again whenever the subscription is (re)established, so an
 * instance that starts, or that lost Redis for a while, catches up.
 *
 * The request path never waits for Redis: publishing is fire-and-forget, and target selection
 * reads only the local state. While Redis is away, cool-downs stay local (each instance learns on
 * its own, as without Redis).
 */
export class SharedCooldowns implements CooldownListener {
  readonly instance = crypto.randomUUID();
  private stopped = false;

  constructor(
    private readonly link: RedisLink,
    private readonly states: TargetStates,
    private readonly log: Logger,
  ) {}

  /** Subscribes (in the background: start-up never waits for Redis) and tells the states to report here. */
  start(): void {
    this.states.share(this);
    this.link.subscribe(
      COOLDOWN_CHANNEL,
      (text) => this.receive(text),
      () => void this.catchUp(),
    );
  }

  /** Stops catching up; the link (and with it the subscription) is closed by whoever opened it. */
  stop(): void {
    this.stopped = true;
  }

  out(state: TargetState, now: number): void {
    const leftMs = Math.ceil(state.cooldownUntil - now);
    if (leftMs <= 0) return;
    this.publish({ op: "out", key: state.key, url: state.url, leftMs, ms: state.cooldownMs, at: now, from: this.instance });
  }

  back(state: TargetState, now: number): void {
    this.publish({ op: "back", key: state.key, url: state.url, at: now, from: this.instance });
  }

  /** Applies a message from another instance to the local state (never re-published). */
  apply(message: CooldownMessage, now = Date.now()): void {
    if (message.from === this.instance) return;
    const state = this.states.learnt(message.key, message.url);
    if (!state) return;
    if (message.op === "out") learnOut(state, now + (message.leftMs ?? 0), message.ms ?? 0);
    else learnBack(state, message.at, now);
  }

  private publish(message: CooldownMessage): void {
    const text = JSON.stringify(message);
    this.link
      .run(PUBLISH, [cooldownKey(message.key)], [COOLDOWN_CHANNEL, message.op, text, message.leftMs ?? 0])
      // Redis away: the cool-down stays local (the link logs the outage once).
      .catch(() => {});
  }

  private receive(text: string): void {
    const message = parse(text);
    if (message) this.apply(message);
    else this.log.warn(`ignored a malformed message on ${COOLDOWN_CHANNEL}`, { channel: COOLDOWN_CHANNEL });
  }

  /** Reads the cool-downs in force (taken while this instance was not listening). */
  private async catchUp(): Promise<void> {
    let reply: unknown = null;
    for (let attempt = 0; attempt < CATCH_UP_TRIES && !this.stopped; attempt++) {
      try {
        reply = await this.link.run(CURRENT, [], [`${COOLDOWN_KEY_PREFIX}*`]);
        break;
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) return;
        await Bun.sleep(CATCH_UP_RETRY_MS); // background only: the subscription is up, commands are reconnecting
      }
    }
    if (!Array.isArray(reply) || this.stopped) return;
    const now = Date.now();
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const message = parse(String(reply[i]));
      if (message?.op === "out") this.apply({ ...message, leftMs: Number(reply[i + 1]) }, now);
    }
  }
}

function parse(text: string): CooldownMessage | null {
  try {
    const message = JSON.parse(text) as CooldownMessage;
    const valid =
      (message.op === "out" || message.op === "back") &&
      typeof message.key === "string" &&
      typeof message.url === "string" &&
      typeof message.at === "number" &&
      typeof message.from === "string" &&
      (message.op === "back" || (typeof message.leftMs === "number" && Number.isFinite(message.leftMs)));
    return valid ? message : null;
  } catch {
    return null;
  }
}
