import type { ClientKey } from "../access/clients";
import type { LimitSettings, ProxyConfig } from "../config/proxy-config";
import { ProxyError } from "../model/errors";
import type { Logger } from "../lib/log";
import type { Usage } from "../model/usage";
import { refusal, rateLimitHeaders } from "./headers";
import { isBudget, issuedKeyCounter, nanosToUsd, rulesFor, spentOnUsage, usdToNanos, type LimitRule } from "./rules";
import type { LimitCounters, RuleResult } from "./counters";

/** One limit's current use, as /health and the status page show it: a budget's in US dollars. */
export interface LimitUse {
  readonly scope: string;
  readonly subject: string;
  readonly limit: string;
  readonly max: number;
  readonly used: number;
  readonly remaining: number;
  readonly resetMs: number;
}

/** What `state.failMode` says to do when the state store cannot be reached. */
export type FailMode = "open" | "closed";

const NO_RULES: readonly LimitRule[] = [];

/**
 * A request the limits let through. `end` is called once, when the request is over (a stream at
 * its end): its concurrency slot comes back and the tokens it used are charged.
 */
export interface Admission {
  /** OpenAI's rate-limit headers for the limits that admitted it; null when none apply. */
  readonly headers: Readonly<Record<string, string>> | null;
  end(usage: Usage | null, costUsd: number | null): void;
}

/** A client key's limits (its own over `limits.perClient`), counted under its name, or an issued key's id. */
const clientRules = (limits: LimitSettings, client: ClientKey, into: LimitRule[]) =>
  rulesFor("client", client.name, { ...limits.perClient, ...client.limits }, into, client.id === undefined ? client.name : issuedKeyCounter(client.id));

/** The admission of a request no limit applies to. */
export const UNLIMITED: Admission = { headers: null, end() {} };

/** A request admitted twice (by its own limits, then by a fallback model's) as one: its end ends both; the headers are the first's. */
export const bothAdmissions = (first: Admission, second: Admission): Admission =>
  second === UNLIMITED
    ? first
    : {
        headers: first.headers,
        end: (usage, costUsd) => {
          first.end(usage, costUsd);
          second.end(usage, costUsd);
        },
      };

const storeDown = () =>
  new ProxyError(503, "Limits cannot be checked right now (the shared state store is unreachable); try again shortly", "api_error", "limits_unavailable");

/**
 * Admits model requests under every limit that applies (per client key, per Open WebUI user, per
 * model), and spends what they used when they end: the concurrency slot back, the tokens their
 * answer reported charged. Refusals are 429s with OpenAI's headers; admitted requests carry the
 * same headers so clients can pace themselves.
 */
export class Limiter {
  private outage = false;

  constructor(
    private readonly counters: LimitCounters,
    private readonly failMode: () => FailMode,
    private readonly log: Logger,
  ) {}

  /** The limits that apply to a request of this client and user for this model. */
  rulesFor(config: ProxyConfig, client: ClientKey | null, user: string | null, model: string): readonly LimitRule[] {
    const { limits } = config;
    // An issued key's own limits are not in the config's `any`.
    if (!limits.any && !client?.limits) return NO_RULES;
    const rules: LimitRule[] = [];
    if (client) clientRules(limits, client, rules);
    if (user !== null) rulesFor("user", user, limits.perUser, rules);
    rulesFor("model", model, limits.perModel[model], rules);
    return rules;
  }

  /**
   * The limits a fallback model adds to those the request was admitted under: its own `perModel`
   * set (the client and the user are the request's, already counted).
   */
  fallbackRulesFor(config: ProxyConfig, model: string): readonly LimitRule[] {
    const set = config.limits.perModel[model];
    if (!set) return NO_RULES;
    const rules: LimitRule[] = [];
    rulesFor("model", model, set, rules);
    return rules;
  }

  /**
   * Admits the request or throws its 429 (a LimitRefusal), or a 503 when the counters are unreachable and
   * `failMode` is closed.
   */
  async admit(rules: readonly LimitRule[]): Promise<Admission> {
    if (rules.length === 0) return UNLIMITED;
    const now = Date.now();
    let results: RuleResult[];
    try {
      results = await this.counters.admit(rules, now);
      this.recovered();
    } catch (error) {
      this.unreachable(error);
      // Passed unlimited (failMode open), it took no slot; what it spends is still charged.
      return this.admission(rules, null, false);
    }
    if (results.some((result) => !result.allowed)) throw refusal(results, now);
    return this.admission(rules, rateLimitHeaders(results), true);
  }

  private admission(rules: readonly LimitRule[], headers: Admission["headers"], tookSlots: boolean): Admission {
    let ended = false;
    return {
      headers,
      end: (usage, costUsd) => {
        if (ended) return;
        ended = true;
        this.spend(rules, usage, costUsd, tookSlots);
      },
    };
  }

  /** An admitted request ended: its slot comes back (when it took one), its tokens and its cost (none when unpriced) are charged. */
  private spend(rules: readonly LimitRule[], usage: Usage | null, costUsd: number | null, tookSlots: boolean): void {
    const now = Date.now();
    const work: Promise<void>[] = [];
    if (tookSlots && rules.some((rule) => rule.kind === "concurrent")) work.push(this.counters.release(rules));
    const spent = { tokens: usage?.totalTokens ?? 0, nanos: usdToNanos(costUsd) };
    if ((spent.tokens > 0 || spent.nanos > 0) && rules.some((rule) => spentOnUsage(rule.kind))) work.push(this.counters.charge(rules, spent, now));
    for (const step of work) step.catch((error) => this.unreachable(error, false));
  }

  /**
   * Current use against every limit with a bounded set of subjects (each client key, config-file or
   * `issued`, each model; users are too many to list), for /health and the status page. null when
   * the counters are unreachable.
   */
  async current(config: ProxyConfig, issued: readonly ClientKey[]): Promise<LimitUse[] | null> {
    const { limits } = config;
    if (!limits.any && !issued.some((client) => client.limits)) return [];
    const rules: LimitRule[] = [];
    for (const client of [...config.clients.keys, ...issued]) clientRules(limits, client, rules);
    for (const [model, set] of Object.entries(limits.perModel)) rulesFor("model", model, set, rules);
    try {
      const results = await this.counters.peek(rules, Date.now());
      return results.map(({ rule, remaining, used, resetMs }) => {
        const unit = isBudget(rule.kind) ? nanosToUsd : (n: number) => n;
        return {
          scope: rule.scope,
          subject: rule.subject,
          limit: rule.kind,
          max: unit(rule.limit),
          used: unit(used),
          remaining: unit(remaining),
          resetMs: Math.round(resetMs),
        };
      });
    } catch {
      return null;
    }
  }

  private unreachable(error: unknown, admitting = true): void {
    if (!this.outage) {
      this.outage = true;
      const mode = this.failMode();
      const reason = String((error as Error)?.message ?? error);
      this.log.warn(
        `limit store unreachable (${reason}); failMode ${mode}: ${mode === "open" ? "requests pass unlimited" : "model requests get 503"} until it is back`,
        { failMode: mode, error: reason },
      );
    }
    if (admitting && this.failMode() === "closed") throw storeDown();
  }

  private recovered(): void {
    if (!this.outage) return;
    this.outage = false;
    this.log.info("limit store reachable again: limits are enforced");
  }

  close(): void {
    this.counters.close();
  }
}
