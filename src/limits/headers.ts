import { ProxyError, type OpenAIErrorType } from "../model/errors";
import type { LimitKind, LimitScope } from "../model/limits";
import { isBudget, nanosToUsd, type LimitRule } from "./rules";
import type { RuleResult } from "./counters";

/** A duration as OpenAI writes its reset headers: `20ms`, `1s`, `6m0s`, `1h2m3s`. */
export function openAIDuration(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  let seconds = Math.ceil(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

const tightest = (results: readonly RuleResult[], kinds: readonly LimitKind[]) =>
  results.filter((result) => kinds.includes(result.rule.kind)).sort((a, b) => a.remaining - b.remaining)[0];

/**
 * OpenAI's rate-limit headers for the limits that apply, each trio reporting the one with the least
 * remaining: `-requests` from the per-minute request limits, `-tokens` from the token limits.
 */
export function rateLimitHeaders(results: readonly RuleResult[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const requests = tightest(results, ["rpm"]);
  if (requests) {
    headers["x-ratelimit-limit-requests"] = String(requests.rule.limit);
    headers["x-ratelimit-remaining-requests"] = String(requests.remaining);
    headers["x-ratelimit-reset-requests"] = openAIDuration(requests.resetMs);
  }
  const tokens = tightest(results, ["tpm", "tokensPerDay"]);
  if (tokens) {
    headers["x-ratelimit-limit-tokens"] = String(tokens.rule.limit);
    headers["x-ratelimit-remaining-tokens"] = String(tokens.remaining);
    headers["x-ratelimit-reset-tokens"] = openAIDuration(tokens.resetMs);
  }
  return headers;
}

const KIND_WORDS: Record<LimitKind, string> = {
  rpm: "requests per minute",
  tpm: "tokens per minute",
  concurrent: "requests at once",
  tokensPerDay: "tokens per day",
  usdPerDay: "per day",
  usdPerMonth: "per month",
};

const SCOPE_WORDS: Record<LimitScope, (subject: string) => string> = {
  client: (subject) => `the API key '${subject}'`,
  user: () => "your user",
  model: (subject) => `the model '${subject}'`,
};

/** A request a limit refused: the 429 the client gets, and which limit it was (for metrics). */
export class LimitRefusal extends ProxyError {
  constructor(
    readonly rule: LimitRule,
    message: string,
    headers: Readonly<Record<string, string>>,
    type: OpenAIErrorType = "rate_limit_error",
    code = "rate_limit_exceeded",
  ) {
    super(429, message, type, code, null, headers);
  }
}

/** Dollars as a message shows them: cents when whole cents, else as configured (`$5.00`, `$0.125`). */
export const dollars = (usd: number) => `$${Number.isInteger(Math.round(usd * 1e6) / 1e4) ? usd.toFixed(2) : String(usd)}`;

/**
 * The refused limit that holds the request back longest: when it renews, every other has too (a
 * day's budget and a month's spent together renew on the 1st, not at midnight).
 */
const longestWait = (refused: readonly RuleResult[]) =>
  refused.reduce<RuleResult | undefined>((longest, result) => (longest && longest.retryAfterMs >= result.retryAfterMs ? longest : result), undefined);

/**
 * The 429 for a refused request: names the limit (never a key), with Retry-After. A spent budget
 * is OpenAI's `insufficient_quota` (what clients already understand), waits for the end of its
 * calendar window and tells OpenAI's SDKs not to retry it; any other limit carries the rate headers.
 */
export function refusal(results: readonly RuleResult[], now: number): LimitRefusal {
  const refused =
    longestWait(results.filter((result) => !result.allowed && isBudget(result.rule.kind))) ?? longestWait(results.filter((result) => !result.allowed))!;
  const { rule } = refused;
  const retryAfter = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
  // OpenAI's SDKs read the exact wait in ms first; Retry-After is whole seconds, rounded up.
  const retryAfterMs = String(Math.max(1, Math.ceil(refused.retryAfterMs)));
  if (isBudget(rule.kind)) {
    const renews = new Date(now + refused.retryAfterMs).toISOString().replace(".000Z", "Z");
    return new LimitRefusal(
      rule,
      `Budget spent for ${SCOPE_WORDS[rule.scope](rule.subject)}: ${dollars(nanosToUsd(rule.limit))} ${KIND_WORDS[rule.kind]} (UTC). It renews at ${renews}.`,
      { "retry-after": String(retryAfter), "retry-after-ms": retryAfterMs, "x-should-retry": "false" },
      "insufficient_quota",
      "insufficient_quota",
    );
  }
  return new LimitRefusal(
    rule,
    `Rate limit reached for ${SCOPE_WORDS[rule.scope](rule.subject)}: ${rule.limit} ${KIND_WORDS[rule.kind]}. Try again in ${retryAfter} s.`,
    { ...rateLimitHeaders(results), "retry-after": String(retryAfter), "retry-after-ms": retryAfterMs },
  );
}
