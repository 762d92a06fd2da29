import type { Model } from "../../model/model";
import type { TargetStates } from "../../targets/target-states";
import { phaseOf } from "../../targets/target-state";
import type { Observer } from "../observability";
import type { RequestRecord } from "../record";
import type { CounterChild, HistogramChild, MetricsRegistry } from "./registry";

/** Buckets for LLM latencies: 5 ms to 10 min. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;
/** Buckets for the proxy's own time: 0.1 ms to 1 s. */
export const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

/** The model label of a request naming a model no one configured or discovered. */
export const UNKNOWN_MODEL = "unknown";
/** The target label of a request no target served (the proxy answered it itself). */
export const NO_TARGET = "none";

export interface ProxyMetricsSources {
  /** The models served now (configured and discovered): the gauges read at scrape time cover these. */
  readonly models: () => Iterable<Model>;
  readonly states: TargetStates;
  /** Config reloads so far: successful and rejected. */
  readonly reloads: () => { readonly ok: number; readonly rejected: number };
  readonly version: string;
}

/** The children one (model, target) pair moves on every request, found with one lookup. */
interface ServedChildren {
  readonly duration: HistogramChild;
  readonly ttfb: HistogramChild;
  readonly requests: Map<number, CounterChild>;
}

/** A model's token counters, and its cost or unpriced counter, made at its first priced or unpriced request (an unpriced model shows no cost of 0). */
interface TokenChildren {
  readonly prompt: CounterChild;
  readonly completion: CounterChild;
  cost: CounterChild | null;
  unpriced: CounterChild | null;
}

/**
 * Registers the proxy's `cm_proxy_*` families and returns the observer that moves them as each
 * request ends (only model requests count). Labels are bounded: model ids and target names come
 * from the catalog (an id it does not know is "unknown"), never a user, a key or a URL.
 * The per-request cost is a few Map lookups and additions.
 */
export function proxyMetrics(metrics: MetricsRegistry, sources: ProxyMetricsSources): Observer {
  const requests = metrics.counter(
    "cm_proxy_requests_total",
    "Model requests answered, by requested model, serving target and the HTTP status the client got.",
    ["model", "target", "code"],
  );
  const duration = metrics.histogram(
    "cm_proxy_request_duration_seconds",
    "Model request duration, arrival to the last byte sent, by requested model and serving target.",
    ["model", "target"],
    LATENCY_BUCKETS,
  );
  const ttfb = metrics.histogram(
    "cm_proxy_time_to_first_byte_seconds",
    "Time from arrival to the serving backend's response headers, by requested model and serving target.",
    ["model", "target"],
    LATENCY_BUCKETS,
  );
  const overhead = metrics.histogram(
    "cm_proxy_overhead_seconds",
    "Time spent in the proxy itself: arrival to the first backend fetch, plus backend headers to client headers.",
    [],
    OVERHEAD_BUCKETS,
  );
  const overheadAll = overhead.child([]);
  const upstreamErrors = metrics.counter(
    "cm_proxy_upstream_errors_total",
    "Failed backend tries (connect, timeout, connection_dropped, status_<code>) and bodies broken after their headers (body_broken, body_timeout), by model and target tried.",
    ["model", "target", "reason"],
  );
  const retries = metrics.counter("cm_proxy_retries_total", "Tries after the first on the same model of one request, by model and the target retried on.", [
    "model",
    "target",
  ]);
  const fallbacks = metrics.counter("cm_proxy_fallbacks_total", "Requests that moved on to a fallback model, by requested model and fallback.", [
    "model",
    "fallback",
  ]);
  const tokens = metrics.counter("cm_proxy_tokens_total", "Tokens the backends reported, by requested model and type (prompt, completion).", ["model", "type"]);
  const cost = metrics.counter(
    "cm_proxy_cost_usd_total",
    "What model requests cost in US dollars, from the usage the backends reported and the serving targets' prices, by requested model.",
    ["model"],
  );
  const unpriced = metrics.counter(
    "cm_proxy_unpriced_requests_total",
    "Model requests that reported usage but were served by a target with no price (their cost is unknown, not 0), by requested model.",
    ["model"],
  );
  const rateLimited = metrics.counter(
    "cm_proxy_rate_limited_total",
    "Requests refused by a limit, by scope (client, user, model) and limit (rpm, tpm, concurrent, tokensPerDay).",
    ["scope", "limit"],
  );

  const { states } = sources;
  metrics.collect("cm_proxy_in_flight_requests", "Requests under way at a backend, by model.", "gauge", ["model"], (emit) => {
    for (const model of sources.models()) {
      let inFlight = 0;
      for (const target of model.targets) inFlight += states.target(target).inFlight;
      emit([model.id], inFlight);
    }
  });
  metrics.collect("cm_proxy_target_up", "Whether a target takes requests: 1 up or half-open, 0 cooling down.", "gauge", ["model", "target"], (emit) => {
    const now = Date.now();
    for (const model of sources.models()) {
      for (const target of model.targets) emit([model.id, target.name], phaseOf(states.target(target), now) === "cooling" ? 0 : 1);
    }
  });
  metrics.collect("cm_proxy_config_reloads_total", "Config reloads, by result (ok, rejected).", "counter", ["result"], (emit) => {
    const { ok, rejected } = sources.reloads();
    emit(["ok"], ok);
    emit(["rejected"], rejected);
  });
  metrics.collect("cm_proxy_build_info", "The proxy's version; always 1.", "gauge", ["version"], (emit) => emit([sources.version], 1));

  const servedChildren = new Map<string, ServedChildren>();
  const childrenOf = (model: string, target: string): ServedChildren => {
    const key = `${model}\u0000${target}`;
    let children = servedChildren.get(key);
    if (children === undefined) {
      children = { duration: duration.child([model, target]), ttfb: ttfb.child([model, target]), requests: new Map() };
      servedChildren.set(key, children);
    }
    return children;
  };
  const tokenChildren = new Map<string, TokenChildren>();
  const tokensOf = (model: string): TokenChildren => {
    let children = tokenChildren.get(model);
    if (children === undefined) {
      children = { prompt: tokens.child([model, "prompt"]), completion: tokens.child([model, "completion"]), cost: null, unpriced: null };
      tokenChildren.set(model, children);
    }
    return children;
  };

  return (record: RequestRecord): void => {
    if (!record.isModelRequest) return;
    const model = record.modelLabel ?? UNKNOWN_MODEL;
    const target = record.servedTarget ?? NO_TARGET;
    const served = childrenOf(model, target);
    let counter = served.requests.get(record.status);
    if (counter === undefined) served.requests.set(record.status, (counter = requests.child([model, target, String(record.status)])));
    counter.inc();
    served.duration.observe(record.durationMs / 1000);
    if (record.ttfbMs !== null) served.ttfb.observe(record.ttfbMs / 1000);
    if (record.overheadMs !== null) overheadAll.observe(record.overheadMs / 1000);
    let previous: string | null = null;
    for (const tried of record.tries) {
      if (tried.failure !== null) upstreamErrors.inc([tried.model, tried.target, tried.failure]);
      if (tried.model === previous) retries.inc([tried.model, tried.target]);
      previous = tried.model;
    }
    for (const broken of record.bodyFailures) upstreamErrors.inc([broken.model, broken.target, broken.failure ?? "body_broken"]);
    for (const fallback of record.fallbacks) fallbacks.inc([model, fallback]);
    if (record.limitedBy) rateLimited.inc([record.limitedBy.scope, record.limitedBy.kind]);
    const { usage } = record;
    if (usage) {
      const counters = tokensOf(model);
      counters.prompt.inc(usage.promptTokens);
      counters.completion.inc(usage.completionTokens);
      if (record.costUsd !== null) (counters.cost ??= cost.child([model])).inc(record.costUsd);
      else (counters.unpriced ??= unpriced.child([model])).inc();
    }
  };
}
