import type { Catalog } from "../catalog/catalog";
import type { Model, Target } from "../catalog/model";
import { ProxyError } from "../errors";
import type { RuntimeRegistry } from "../state/registry";
import { phaseOf, type TargetState } from "../state/target-state";
import { clientClosed, ConnectionDropped, discard, relay, send, type RelayEnd, type Sent } from "../upstream/forward";
import type { HeaderRecord } from "../upstream/headers";
import type { Outcome, RequestRecord } from "../observe/record";
import { SseUsage } from "../observe/usage/sse-usage";
import { usageOfBody } from "../observe/usage/extract";
import type { BodyEnd } from "../upstream/relay";
import type { Limiter } from "../limits/limiter";
import type { LimitRule } from "../limits/rules";
import { holdFor, recordFailure, recordSuccess, releaseTrial } from "./breaker";
import { backoffMs, MAX_RETRY_WAIT_MS, retryAfterMs } from "./retry";
import { canServe, pickTarget, soonestBack } from "./select";

/** What one try sends: the route shapes it for the chosen target (its backend model name and key). */
export interface Attempt {
  readonly path: string;
  readonly headers: HeaderRecord;
  readonly body: RequestInit["body"];
  /** The proxy asked this backend for stream usage itself: the usage-only chunk is not the client's. */
  readonly stripUsage?: boolean;
}

export interface DispatchRequest {
  /** The model the client asked for, already authorized. */
  readonly model: Model;
  /** The catalog the request runs on: where its fallbacks are looked up. */
  readonly catalog: Catalog;
  readonly method: string;
  readonly prepare: (target: Target) => Attempt;
  /** False when the body is a stream that can be sent only once: one try, no fallback. */
  readonly replayable: boolean;
  readonly maxBodyBytes: number;
  readonly clientSignal: AbortSignal;
  /** Where the request's observers learn what happened; it is ended here when a body is relayed. */
  readonly record: RequestRecord;
  /** Whether the answer reports token usage worth reading (chat, completions, embeddings, responses). */
  readonly readsUsage: boolean;
  /** The limits that must admit the request (see Limiter.rulesFor); empty when none apply. */
  readonly limits: readonly LimitRule[];
}

/** Response headers naming what served a model request. */
export const MODEL_HEADER = "x-cm-proxy-model";
export const SERVED_BY_HEADER = "x-cm-proxy-served-by";
export const ATTEMPTS_HEADER = "x-cm-proxy-attempts";

/** What the tries of one request have come to so far. */
interface Progress {
  attempts: number;
  /** The last backend answer that was not relayed (kept to relay if nothing better comes). */
  lastReply: Sent | null;
  lastError: ProxyError | null;
  servedBy: string | null;
  /** OpenAI's rate-limit headers for the limits that admitted the request. */
  rateHeaders: HeaderRecord | null;
}

/** A try either answered the client or failed in a way another try may mend. */
type TryOutcome = { response: Response } | { retryAfterMs: number | null };

/**
 * select → forward → retry → fall back → record: the one path every model request takes. Retries
 * happen only before the client has received a byte; once a response is returned, it is relayed.
 */
export class Router {
  constructor(
    private readonly registry: RuntimeRegistry,
    readonly limiter: Limiter,
    private readonly random: () => number = Math.random,
  ) {}

  async dispatch(request: DispatchRequest): Promise<Response> {
    const progress: Progress = { attempts: 0, lastReply: null, lastError: null, servedBy: null, rateHeaders: null };
    if (request.limits.length > 0) {
      try {
        progress.rateHeaders = await this.limiter.admit(request.limits, request.record);
      } catch (error) {
        throw error instanceof ProxyError ? withServedHeaders(error, request, progress) : error;
      }
    }
    // Only a failure another try may mend moves on, so every model after the first is reached
    // through a retryable outcome (a fallback's own fallbacks are never followed: no cycles).
    const { model, catalog } = request;
    const fallbacks = request.replayable && model.fallbacks.length > 0 ? catalog.fallbacksOf(model) : [];
    const chain = fallbacks.length > 0 ? [model, ...fallbacks] : [model];
    for (let i = 0; i < chain.length; i++) {
      if (this.betterServedLater(chain, i)) continue;
      if (i > 0) request.record.fallbacks.push(chain[i]!.id);
      const response = await this.tryModel(chain[i]!, request, progress);
      if (response) return response;
    }
    return this.giveUp(request, progress);
  }

  /** A model whose every target is out is skipped when a later one in the chain can serve now. */
  private betterServedLater(chain: readonly Model[], index: number): boolean {
    const now = Date.now();
    if (index + 1 >= chain.length || canServe(chain[index]!, this.registry, now)) return false;
    return chain.slice(index + 1).some((next) => canServe(next, this.registry, now));
  }

  /** Tries one model's targets within its retry policy; null when the request must move on. */
  private async tryModel(model: Model, request: DispatchRequest, progress: Progress): Promise<Response | null> {
    const attempts = request.replayable ? model.retry.attempts : 1;
    const tried = new Set<Target>();
    /** Targets that asked (Retry-After) to be left alone until a time: only a retry there waits for it. */
    const askedUntil = new Map<Target, number>();
    for (let n = 1; n <= attempts; n++) {
      const now = Date.now();
      const target = pickTarget(model, this.registry, tried, now, this.random) ?? soonestBack(model, this.registry);
      if (n > 1) {
        const asked = (askedUntil.get(target) ?? 0) - now;
        if (asked > MAX_RETRY_WAIT_MS) return null; // nowhere else to go: relay what we have
        await sleep(Math.max(backoffMs(model.retry, n - 1, this.random), asked), request.clientSignal);
      }
      tried.add(target);
      const outcome = await this.tryTarget(model, target, request, progress);
      if ("response" in outcome) return outcome.response;
      if (outcome.retryAfterMs !== null) askedUntil.set(target, Date.now() + outcome.retryAfterMs);
    }
    return null;
  }

  private async tryTarget(model: Model, target: Target, request: DispatchRequest, progress: Progress): Promise<TryOutcome> {
    const state = this.registry.target(target);
    if (phaseOf(state, Date.now()) === "half-open") state.probing = true;
    state.inFlight++;
    if (progress.lastReply) discard(progress.lastReply);
    progress.lastReply = null;
    progress.lastError = null;
    const { record } = request;
    let sent: Sent | null = null;
    let attempt!: Attempt;
    let started = 0;
    // A connection dropped before any answer is not the backend's answer: one more try at once, on
    // a fresh connection, outside the retry policy's attempts; only a second drop is a failure.
    for (let fresh = false; sent === null; fresh = true) {
      progress.attempts++;
      progress.servedBy = `${model.id}/${target.name}`;
      attempt = request.prepare(target);
      started = performance.now();
      record.fetchStartMs ??= started - record.startMono;
      try {
        sent = await send({ target, ...attempt, method: request.method, maxBodyBytes: request.maxBodyBytes, clientSignal: request.clientSignal, fresh });
      } catch (error) {
        if (error instanceof ConnectionDropped && !fresh && request.replayable) {
          record.tries.push({ model: model.id, target: target.name, status: error.status, failure: "connection_dropped" });
          continue;
        }
        const failure = this.failedTry(error, state, model, request, progress);
        record.tries.push({ model: model.id, target: target.name, status: failure.status, failure: failure.status === 504 ? "timeout" : "connect" });
        return { retryAfterMs: null };
      }
    }
    const status = sent.response.status;
    const headersAt = performance.now();
    if (!model.retry.retryOn.has(status)) {
      recordSuccess(state);
      updateLatency(state, headersAt - started);
      record.tries.push({ model: model.id, target: target.name, status, failure: null });
      try {
        return { response: await this.relayServed(sent, request, progress, headersAt, { state, model, stripUsage: attempt.stripUsage ?? false }) };
      } catch (error) {
        // A small body is read whole before answering: when it breaks or stalls, no byte has reached
        // the client, so another try may still serve it.
        const failure = this.failedTry(error, state, model, request, progress);
        record.tries[record.tries.length - 1] = { model: model.id, target: target.name, status: failure.status, failure: bodyFailure(failure) };
        return { retryAfterMs: null };
      }
    }
    record.tries.push({ model: model.id, target: target.name, status, failure: `status_${status}` });
    // RFC 9110 defines Retry-After for 503 as much as for 429: any retryable answer may carry it.
    const askedMs = retryAfterMs(sent.response.headers);
    if (askedMs !== null) holdFor(state, askedMs, Date.now());
    else recordFailure(state, model.cooldown, Date.now());
    state.inFlight--;
    progress.lastReply = sent;
    return { retryAfterMs: askedMs };
  }

  /**
   * A try that got no answer to relay: the target is free again. A 502/504 counts against it and
   * another try may follow; anything else (the client left, its body was refused) is not the
   * target's fault and ends the request.
   */
  private failedTry(error: unknown, state: TargetState, model: Model, request: DispatchRequest, progress: Progress): ProxyError {
    state.inFlight--;
    const failure = error instanceof ProxyError ? error : new ProxyError(502, String(error), "upstream_error", "backend_unreachable");
    if (failure.status !== 502 && failure.status !== 504) {
      releaseTrial(state);
      throw withServedHeaders(failure, request, progress);
    }
    recordFailure(state, model.cooldown, Date.now());
    progress.lastError = failure;
    return failure;
  }

  /**
   * Relays the answer that ends the request, and ends its record with the body: the bytes sent,
   * the usage it reported, how it ended. A body read whole is parsed for usage only after the
   * response is on its way.
   */
  private async relayServed(sent: Sent, request: DispatchRequest, progress: Progress, headersAt: number, served: Served | null): Promise<Response> {
    const { record } = request;
    [record.servedModel, record.servedTarget] = [sent.target.modelId, sent.target.name];
    record.ttfbMs = headersAt - record.startMono;
    const scanner = request.readsUsage ? new SseUsage(served?.stripUsage ?? false) : undefined;
    // The body's end is watched by a closure built outside this async function: it holds only what
    // it reads, not the request (its parsed body, its prepare closure) nor the backend's Response.
    const ending = bodyEnding(record, sent.target, sent.response.status, served, scanner, request.readsUsage, headersAt);
    const response = await relay(sent, servedHeaders(request, progress), ending.onEnd, scanner);
    ending.returned = true;
    // From here the body's end ends the record (a body read whole has been read already).
    record.endsWithBody = true;
    record.overheadMs = (record.fetchStartMs ?? 0) + (performance.now() - ending.bodyReadAt);
    return response;
  }

  /** Every try failed: the last backend answer goes to the client unchanged, or the proxy's own error. */
  private async giveUp(request: DispatchRequest, progress: Progress): Promise<Response> {
    if (progress.lastReply) {
      const reply = progress.lastReply;
      progress.lastReply = null;
      try {
        return await this.relayServed(reply, request, progress, performance.now(), null);
      } catch (error) {
        throw error instanceof ProxyError ? withServedHeaders(error, request, progress) : error;
      }
    }
    const error = progress.lastError ?? new ProxyError(503, `No backend of model '${request.model.id}' is available`, "api_error", "no_backend_available");
    throw withServedHeaders(error, request, progress);
  }
}

/** The target state and model of the answer being relayed, whose end frees the target. */
interface Served {
  readonly state: TargetState;
  readonly model: Model;
  readonly stripUsage: boolean;
}

interface BodyEnding {
  readonly onEnd: RelayEnd;
  /** The response has been returned: a body ending now ends the record at once. */
  returned: boolean;
  /** When a body read whole was read (the headers' arrival until then). */
  bodyReadAt: number;
}

/**
 * The end of a relayed body: frees the target, and ends the record with the bytes sent, the usage
 * it reported and how it ended. A body over before the answer is even returned (read whole, or
 * none) ends the record once the response is on its way, off the request path.
 */
function bodyEnding(record: RequestRecord, target: Target, status: number, served: Served | null, scanner: SseUsage | undefined, readsUsage: boolean, headersAt: number): BodyEnding {
  const ending: BodyEnding = {
    returned: false,
    bodyReadAt: headersAt,
    onEnd: (end, bytes, whole) => {
      if (served) finish(served.state, served.model, end);
      if (end instanceof ProxyError) {
        record.bodyFailures.push({ model: target.modelId, target: target.name, status: end.status, failure: bodyFailure(end) });
      }
      record.bytesOut = bytes;
      const outcome = outcomeOf(end, status);
      // A body read whole before answering took the backend's time, not the proxy's.
      if (whole) ending.bodyReadAt = performance.now();
      const close = () => {
        record.usage = whole ? (readsUsage ? usageOfBody(whole) : null) : (scanner?.usage() ?? null);
        record.end(status, outcome);
      };
      if (ending.returned) close();
      else setImmediate(close);
    },
  };
  return ending;
}

/** Why a body failed after its headers arrived, as metrics and logs name it. */
const bodyFailure = (error: ProxyError) => (error.status === 504 ? "body_timeout" : "body_broken");

/** How a relayed request ended, for its record. */
function outcomeOf(end: BodyEnd, status: number): Outcome {
  if (end === "client_aborted") return "client_aborted";
  if (end !== "complete") return end.status === 504 ? "timeout" : "upstream_error";
  return status >= 500 || status === 429 ? "upstream_error" : "ok";
}

/**
 * The body of a relayed answer ended: the target is free, and a break mid-body counts against it.
 * The state is the one the request started on, even if a reload has since replaced it.
 */
function finish(state: TargetState, model: Model, end: BodyEnd): void {
  state.inFlight--;
  if (end instanceof ProxyError) recordFailure(state, model.cooldown, Date.now());
}

const LATENCY_WEIGHT = 0.3;

function updateLatency(state: TargetState, ms: number): void {
  state.ewmaTtfbMs = state.ewmaTtfbMs === null ? ms : state.ewmaTtfbMs + LATENCY_WEIGHT * (ms - state.ewmaTtfbMs);
}

/** Our request id replaces a backend's own: the client sees the id its log lines carry. */
function servedHeaders(request: DispatchRequest, progress: Progress): HeaderRecord {
  const headers: HeaderRecord = {
    "x-request-id": request.record.id,
    [MODEL_HEADER]: request.model.id,
    [ATTEMPTS_HEADER]: String(progress.attempts),
  };
  if (progress.servedBy) headers[SERVED_BY_HEADER] = progress.servedBy;
  if (progress.rateHeaders) Object.assign(headers, progress.rateHeaders);
  return headers;
}

function withServedHeaders(error: ProxyError, request: DispatchRequest, progress: Progress): ProxyError {
  return error.withHeaders(servedHeaders(request, progress));
}

/** Waits `ms`, or rejects at once when the client goes away. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(clientClosed());
  if (ms <= 0) return Promise.resolve();
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const onAbort = () => {
    clearTimeout(timer);
    reject(clientClosed());
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}
