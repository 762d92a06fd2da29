// One model request from admission to its answer: admit → the chain of models → tries → relay.
import type { ClientKey } from "../access/clients";
import { headerValue } from "../lib/header-value";
import type { Catalog } from "../catalog/catalog";
import type { Model, ProviderKind, Target } from "../model/model";
import { ProxyError } from "../model/errors";
import { LimitRefusal } from "../limits/headers";
import { bothAdmissions, UNLIMITED, type Admission, type Limiter } from "../limits/limiter";
import { jsonResponse } from "../lib/json-response";
import { sleep } from "../lib/sleep";
import type { RequestRecord } from "../observe/record";
import { messagesOutgoing } from "../providers/messages";
import type { AnswerTranslator, ClientCall, LocalAnswer, MessagesCall, Outgoing, ProviderAdapter } from "../providers/provider";
import type { TargetLease } from "../targets/lease";
import type { TargetStates } from "../targets/target-states";
import { clientClosed, ConnectionDropped, discard, readAhead, relay, send, type Sent } from "../upstream/forward";
import type { HeaderRecord } from "../upstream/headers";
import { backoffMs, MAX_RETRY_WAIT_MS, retryAfterMs } from "./retry";
import { canServe, pickTarget, soonestBack } from "./select";
import { bodyEnding, bodyFailure } from "./served-body";

/** A model request as its route hands it over: who asks for which model, and what to send. */
export interface ModelRequest {
  /** The model the client asked for, already authorized. */
  readonly model: Model;
  /** The catalog the request runs on: where its fallbacks are looked up, and its config. */
  readonly catalog: Catalog;
  readonly method: string;
  readonly call: ClientCall | MessagesCall;
  /** False when the body is a stream that can be sent only once: one try, no fallback. */
  readonly replayable: boolean;
  readonly maxBodyBytes: number;
  readonly clientSignal: AbortSignal;
  /** Where the request's observers learn what happened; it is ended here when a body is relayed. */
  readonly record: RequestRecord;
  /** Whether the answer reports token usage worth reading (chat, completions, embeddings, responses). */
  readonly readsUsage: boolean;
  /**
   * Whether the limits count it: every model request but a token count (`/messages/count_tokens`,
   * which Claude Code sends before many turns: Anthropic rate-limits it apart, and it costs nothing).
   */
  readonly limited: boolean;
  /** The client key presented (null when the proxy is open) and Open WebUI's user: whom limits apply to. */
  readonly client: ClientKey | null;
  readonly user: string | null;
}

/** What every dispatch shares: target state, limits, the wire-format adapters, the random source. */
export interface DispatchDeps {
  readonly states: TargetStates;
  readonly limiter: Limiter;
  readonly providers: Readonly<Record<ProviderKind, ProviderAdapter>>;
  readonly random: () => number;
}

/** Response headers naming what served a model request. */
export const MODEL_HEADER = "x-cm-proxy-model";
export const SERVED_BY_HEADER = "x-cm-proxy-served-by";
export const ATTEMPTS_HEADER = "x-cm-proxy-attempts";

/** A quarter of the characters (or bytes) of a request body; 0 for a stream, whose length is not known. */
function estimatedTokens(body: Outgoing["body"]): number {
  const length = typeof body === "string" ? body.length : body instanceof Uint8Array ? body.byteLength : 0;
  return Math.ceil(length / 4);
}

/** A try either answered the client or failed in a way another try may mend (after `retryAfterMs`, when the backend asked). */
type TryOutcome = { readonly response: Response } | { readonly retryAfterMs: number | null };
const TRY_ELSEWHERE: TryOutcome = { retryAfterMs: null };

/**
 * One request and its progress. Retries happen only before the client has received a byte; once a
 * response is returned, it is relayed, and the body's end (served-body.ts) finishes the request.
 */
export class Dispatch {
  /** Backend requests sent so far, across all models. */
  private tries = 0;
  /** The last backend answer that was not relayed, kept to relay if nothing better comes (with its translator, if any). */
  private lastReply: Sent | null = null;
  private lastAnswer: AnswerTranslator | undefined;
  private lastError: ProxyError | null = null;
  private servedBy: string | null = null;
  /** The input tokens of the last backend request sent, estimated from its body: a quarter of its characters. */
  private promptEstimate = 0;
  private admission: Admission = UNLIMITED;
  /** Why a fallback's own limits turned the request away: its answer when nothing else was tried. */
  private fallbackRefusal: ProxyError | null = null;

  constructor(
    private readonly deps: DispatchDeps,
    private readonly request: ModelRequest,
  ) {}

  async run(): Promise<Response> {
    const { request, deps } = this;
    const rules = request.limited ? deps.limiter.rulesFor(request.catalog.config, request.client, request.user, request.model.id) : [];
    if (rules.length > 0) {
      try {
        this.admission = await deps.limiter.admit(rules);
      } catch (error) {
        throw this.answered(error);
      }
    }
    try {
      return await this.serve();
    } catch (error) {
      // Nothing is relayed: the request is over now.
      this.admission.end(null, null);
      throw this.answered(error);
    }
  }

  /**
   * Walks the chain of the model and its fallbacks. Only a failure another try may mend moves on,
   * so every model after the first is reached through a retryable outcome (a fallback's own
   * fallbacks are never followed: no cycles).
   */
  private async serve(): Promise<Response> {
    const { model, catalog, replayable, record } = this.request;
    const fallbacks = replayable && model.fallbacks.length > 0 ? catalog.fallbacksOf(model) : [];
    const chain = fallbacks.length > 0 ? [model, ...fallbacks] : [model];
    const admitted = this.admission;
    for (let i = 0; i < chain.length; i++) {
      if (this.betterServedLater(chain, i)) continue;
      const own = i === 0 ? UNLIMITED : await this.admitFallback(chain[i]!);
      if (own === null) continue;
      if (i > 0) record.fallbacks.push(chain[i]!.id);
      this.admission = bothAdmissions(admitted, own);
      const response = await this.tryModel(chain[i]!);
      if (response) return response;
      // This model served nothing: its own limits get their slot back and are charged nothing.
      own.end(null, null);
      this.admission = admitted;
    }
    return this.giveUp();
  }

  /**
   * A fallback model's own limits (`perModel`) must admit the request as well: a model whose budget
   * is spent is not reached through another model's fallbacks, and what it serves is charged to it.
   * Null when they refuse it (or cannot be checked, with failMode closed): the chain moves on.
   */
  private async admitFallback(model: Model): Promise<Admission | null> {
    const { request, deps } = this;
    const rules = request.limited ? deps.limiter.fallbackRulesFor(request.catalog.config, model.id) : [];
    if (rules.length === 0) return UNLIMITED;
    try {
      return await deps.limiter.admit(rules);
    } catch (error) {
      if (!(error instanceof ProxyError)) throw error;
      this.fallbackRefusal ??= error;
      return null;
    }
  }

  /** A model whose every target is out is skipped when a later one in the chain can serve now. */
  private betterServedLater(chain: readonly Model[], index: number): boolean {
    const now = Date.now();
    const { states } = this.deps;
    if (index + 1 >= chain.length || canServe(chain[index]!, states, now)) return false;
    return chain.slice(index + 1).some((next) => canServe(next, states, now));
  }

  /** Tries one model's targets within its retry policy; null when the request must move on. */
  private async tryModel(model: Model): Promise<Response | null> {
    const { request, deps } = this;
    const attempts = request.replayable ? model.retry.attempts : 1;
    const tried = new Set<Target>();
    /** Targets that asked (Retry-After) to be left alone until a time: only a retry there waits for it. */
    let askedUntil: Map<Target, number> | null = null;
    /** The model as far as this call goes: without the targets whose wire format cannot express it. */
    let serving = model;
    for (let n = 1; n <= attempts; n++) {
      const now = Date.now();
      let target: Target;
      let plan: Outgoing | LocalAnswer;
      // Bounded: each turn that plans nothing leaves one target out.
      for (;;) {
        target = pickTarget(serving, deps.states, tried, now, deps.random) ?? soonestBack(serving, deps.states);
        const planned = await this.plan(target);
        if (!(planned instanceof Error)) {
          plan = planned;
          break;
        }
        // A call this backend's format cannot express: its 400, sent nowhere, and no try used up.
        // Another target may speak a format that can (one model may mix providers). When none
        // does and an earlier try (of a model this one is a fallback of, or of another target)
        // already failed, that failure is the client's better answer, and the chain moves on.
        serving = { ...serving, targets: serving.targets.filter((other) => other !== target) };
        if (serving.targets.length > 0) continue;
        if (this.lastReply || this.lastError) return null;
        throw planned;
      }
      if (n > 1) {
        const asked = (askedUntil?.get(target) ?? 0) - now;
        if (asked > MAX_RETRY_WAIT_MS) return null; // nowhere else to go: relay what we have
        await sleep(Math.max(backoffMs(model.retry, n - 1, deps.random), asked), request.clientSignal, clientClosed);
      }
      tried.add(target);
      if ("local" in plan) return this.answerLocally(model, target, plan);
      const outcome = await this.tryTarget(model, target, plan);
      if ("response" in outcome) return outcome.response;
      if (outcome.retryAfterMs !== null) (askedUntil ??= new Map()).set(target, Date.now() + outcome.retryAfterMs);
    }
    return null;
  }

  /** The backend request for the call to `target`, or the error (a 400) when its format cannot express the call. */
  private async plan(target: Target): Promise<Outgoing | LocalAnswer | Error> {
    const { request, deps } = this;
    const provider = deps.providers[target.provider];
    if (provider.prepare && request.call.kind !== "messages") await provider.prepare(request.call);
    try {
      return this.outgoing(provider, target);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private async tryTarget(model: Model, target: Target, plan: Outgoing): Promise<TryOutcome> {
    const { request, deps } = this;
    const { record } = request;
    const provider = deps.providers[target.provider];
    let outgoing = plan;
    const lease = deps.states.lease(target, model, Date.now());
    this.dropLastReply();
    let sent: Sent | null = null;
    let started = 0;
    // A connection dropped before any answer is not the backend's answer: one more try at once, on
    // a fresh connection, outside the retry policy's attempts; only a second drop is a failure.
    for (let fresh = false; sent === null; fresh = true) {
      this.tries++;
      this.servedBy = `${model.id}/${target.name}`;
      // The same call to the same target is planned the same way: a backend request again.
      if (fresh) outgoing = this.outgoing(provider, target) as Outgoing;
      started = performance.now();
      record.fetchStartMs ??= started - record.startMono;
      this.promptEstimate = estimatedTokens(outgoing.body);
      try {
        sent = await send({
          target,
          path: outgoing.path,
          headers: outgoing.headers,
          body: outgoing.body,
          method: request.method,
          maxBodyBytes: request.maxBodyBytes,
          clientSignal: request.clientSignal,
          fresh,
          decompress: outgoing.answer !== undefined,
        });
      } catch (error) {
        if (error instanceof ConnectionDropped && !fresh && request.replayable) {
          record.tries.push({ model: model.id, target: target.name, status: error.status, failure: "connection_dropped" });
          continue;
        }
        const failure = this.failedTry(error, lease);
        record.tries.push({ model: model.id, target: target.name, status: failure.status, failure: failure.status === 504 ? "timeout" : "connect" });
        return TRY_ELSEWHERE;
      }
    }
    // A translated answer is judged by the status the client will see (Anthropic's 529 is a 503).
    const status = outgoing.answer ? outgoing.answer.status(sent.response.status) : sent.response.status;
    const headersAt = performance.now();
    if (!model.retry.retryOn.has(status)) {
      lease.answered(headersAt - started);
      record.tries.push({ model: model.id, target: target.name, status, failure: null });
      try {
        return { response: await this.relayServed(sent, headersAt, lease, provider, outgoing.stripUsage, outgoing.answer) };
      } catch (error) {
        // A small body is read whole before answering: when it breaks or stalls, no byte has reached
        // the client, so another try may still serve it.
        const failure = this.failedTry(error, lease);
        record.tries[record.tries.length - 1] = { model: model.id, target: target.name, status: failure.status, failure: bodyFailure(failure) };
        return TRY_ELSEWHERE;
      }
    }
    record.tries.push({ model: model.id, target: target.name, status, failure: `status_${status}` });
    // RFC 9110 defines Retry-After for 503 as much as for 429: any retryable answer may carry it.
    let askedMs = retryAfterMs(sent.response.headers);
    if (askedMs === null && outgoing.answer) {
      // A backend of another format may say it in its error body (Gemini's RetryInfo), which its
      // translator reads: the body is read now, and kept to be relayed if nothing better comes.
      try {
        const ahead = await readAhead(sent);
        sent = ahead.sent;
        const error = outgoing.answer.whole(sent.response.status, ahead.body);
        if (error instanceof ProxyError && error.headers) askedMs = retryAfterMs(new Headers(error.headers));
      } catch (error) {
        this.failedTry(error, lease);
        return TRY_ELSEWHERE;
      }
    }
    lease.release(askedMs === null ? "failed" : { restMs: askedMs });
    this.lastReply = sent;
    this.lastAnswer = outgoing.answer;
    return { retryAfterMs: askedMs };
  }

  /** The backend request of one try; a Messages call is relayed, translated or answered locally the same way for every adapter. */
  private outgoing(provider: ProviderAdapter, target: Target): Outgoing | LocalAnswer {
    const { call } = this.request;
    return call.kind === "messages" ? messagesOutgoing(provider, call, target) : provider.outgoing(call, target);
  }

  /**
   * A try the seam answered itself: no backend call, so no lease, no judgement and nothing relayed.
   * It beats any earlier failure, which is dropped; the request ends with it, using no tokens.
   */
  private answerLocally(model: Model, target: Target, answer: LocalAnswer): Response {
    const { record } = this.request;
    this.dropLastReply();
    this.servedBy = `${model.id}/${target.name}`;
    record.servedModel = target.modelId;
    record.servedTarget = target.name;
    this.admission.end(null, null);
    return jsonResponse(answer.local, 200, this.servedHeaders());
  }

  /**
   * A try that got no answer to relay: the target is free again. A 502/504 counts against it and
   * another try may follow; anything else (the client left, its body was refused) is not the
   * target's fault and ends the request.
   */
  private failedTry(error: unknown, lease: TargetLease): ProxyError {
    const failure = error instanceof ProxyError ? error : new ProxyError(502, String(error), "upstream_error", "backend_unreachable");
    if (failure.status !== 502 && failure.status !== 504) {
      lease.release("unjudged");
      throw failure;
    }
    lease.release("failed");
    this.lastError = failure;
    return failure;
  }

  /**
   * Relays the answer that ends the request; its body's end finishes it (served-body.ts). A body
   * read whole is parsed for usage only after the response is on its way. An answer in another
   * wire format goes through its translator, which is then the stream's filter.
   */
  private async relayServed(
    sent: Sent,
    headersAt: number,
    lease: TargetLease | null,
    provider: ProviderAdapter,
    stripUsage: boolean,
    answer: AnswerTranslator | undefined,
  ): Promise<Response> {
    const { record, readsUsage } = this.request;
    record.servedModel = sent.target.modelId;
    record.servedTarget = sent.target.name;
    record.ttfbMs = headersAt - record.startMono;
    const filter = answer ? answer.stream : readsUsage ? provider.streamWatch(stripUsage) : undefined;
    const ending = bodyEnding({
      record,
      target: sent.target,
      status: answer ? answer.status(sent.response.status) : sent.response.status,
      lease,
      admission: this.admission,
      provider: readsUsage ? provider : null,
      // A translated answer was decoded by fetch; any other is relayed as it came.
      contentEncoding: readsUsage && !answer ? sent.response.headers.get("content-encoding") : null,
      watch: readsUsage ? filter : undefined,
      promptEstimate: this.promptEstimate,
      headersAt,
    });
    const response = await relay(sent, this.servedHeaders(), ending.onEnd, { filter, rewrite: answer, keepWhole: readsUsage && !answer });
    ending.returned = true;
    // From here the body's end ends the record; a body read whole already has, once the response is sent.
    record.endsWithBody = true;
    record.afterResponse = ending.pending;
    record.overheadMs = (record.fetchStartMs ?? 0) + (performance.now() - ending.bodyReadAt);
    return response;
  }

  /** Every try failed: the last backend answer goes to the client unchanged, or the proxy's own error. */
  private async giveUp(): Promise<Response> {
    const reply = this.lastReply;
    if (reply) {
      this.lastReply = null;
      return this.relayServed(reply, performance.now(), null, this.deps.providers[reply.target.provider], false, this.lastAnswer);
    }
    throw (
      this.lastError ??
      this.fallbackRefusal ??
      new ProxyError(503, `No backend of model '${this.request.model.id}' is available`, "api_error", "no_backend_available")
    );
  }

  private dropLastReply(): void {
    if (this.lastReply) discard(this.lastReply);
    this.lastReply = null;
    this.lastAnswer = undefined;
    this.lastError = null;
  }

  /** The proxy's own error, with the headers naming what was tried (a refusal also names its limit on the record); anything else passes unchanged. */
  private answered(error: unknown): unknown {
    if (error instanceof LimitRefusal) this.request.record.limitedBy = { scope: error.rule.scope, kind: error.rule.kind };
    return error instanceof ProxyError ? error.withHeaders(this.servedHeaders()) : error;
  }

  /** Our request id replaces a backend's own: the client sees the id its log lines carry. */
  private servedHeaders(): HeaderRecord {
    const headers: HeaderRecord = {
      "x-request-id": this.request.record.id,
      [MODEL_HEADER]: headerValue(this.request.model.id),
      [ATTEMPTS_HEADER]: String(this.tries),
    };
    if (this.servedBy) headers[SERVED_BY_HEADER] = headerValue(this.servedBy);
    if (this.admission.headers) Object.assign(headers, this.admission.headers);
    return headers;
  }
}

/** Sends model requests on their way: one Dispatch per request, over the state they share. */
export class Dispatcher {
  constructor(private readonly deps: DispatchDeps) {}

  dispatch(request: ModelRequest): Promise<Response> {
    return new Dispatch(this.deps, request).run();
  }
}
