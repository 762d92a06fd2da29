// Cool-down (circuit breaker), black box: consecutive failures take a target out, `/health` shows
// it cooling, a half-open trial follows the cool-down, a failed trial doubles the wait, a
// successful one brings the target back. A lone target is not cooled down unless its model asks,
// and a model whose every target is cooling still serves from the one that returns soonest. A
// Retry-After rests a target without counting a failure, for no longer than the breaker's own
// longest cool-down (or the default policy's, when that is longer); one that asks for no wait is a
// failure like any other.
import { describe, expect, test } from "bun:test";
import { deferred } from "../support/events";
import { readFirstChunk } from "../support/http";
import { reply } from "../support/mock-backend";
import type { ProxyHandle } from "../support/proxy";
import { chat, completion, failure, health, modelRequests, outcome, perTestServers, targetHealth, untilMs, waitPast } from "./lib-b";

const { mock, startProxy } = perTestServers();

/** A model `duo` with targets a and b, and `policy` (cool-down, retry, timeouts). */
const duo = (a: { url: string }, b: { url: string }, policy: Record<string, unknown>) => ({
  endpoints: {
    duo: {
      targets: [
        { name: "a", url: a.url },
        { name: "b", url: b.url },
      ],
      ...policy,
    },
  },
});

describe("cool-down and half-open", () => {
  test("two failures cool A down; B serves alone; a failed half-open trial doubles the wait; a good one brings A back", async () => {
    const a = mock("a");
    const b = mock("b");
    const proxy = await startProxy(duo(a, b, { cooldown: { failures: 2, seconds: 0.3 }, retry: { backoffMs: 0 } }));
    a.willReply(() => failure(500, "a"));
    b.willReply((request) => completion("b", request));

    // Each request that lands on A first fails there and is retried on B: the client sees no error.
    const first = await outcome(await chat(proxy, "duo"));
    expect(first).toMatchObject({ status: 200, model: "duo", servedBy: "duo/b", attempts: "2" });
    expect(await targetHealth(proxy, "duo", "a")).toMatchObject({ state: "up", consecutiveFailures: 1, cooldownUntil: null });

    const beforeSecond = Date.now();
    const second = await outcome(await chat(proxy, "duo"));
    const afterSecond = Date.now();
    expect(second).toMatchObject({ status: 200, servedBy: "duo/b", attempts: "2" });
    expect(modelRequests(a)).toHaveLength(2);
    const cooling = await targetHealth(proxy, "duo", "a");
    expect(cooling).toMatchObject({ state: "cooling", consecutiveFailures: 2 });
    const firstUntil = untilMs(cooling);
    expect(firstUntil).toBeGreaterThanOrEqual(beforeSecond + 300);
    expect(firstUntil).toBeLessThanOrEqual(afterSecond + 300);
    // B is still usable, so the model is fine.
    expect((await health(proxy)).status).toBe("ok");

    // While A cools down, every request goes to B at the first try.
    for (let i = 0; i < 3; i++) {
      expect(await outcome(await chat(proxy, "duo"))).toMatchObject({ status: 200, servedBy: "duo/b", attempts: "1" });
    }
    expect(Date.now()).toBeLessThan(firstUntil); // (precondition: these ran inside the cool-down)
    expect(modelRequests(a)).toHaveLength(2);

    // Past the cool-down, /health shows A half-open before any request tries it.
    await waitPast(firstUntil);
    expect(await targetHealth(proxy, "duo", "a")).toMatchObject({ state: "half-open", consecutiveFailures: 2 });

    // The trial: one request reaches A (held 250 ms, then 500); meanwhile nothing else goes there.
    const trialArrived = deferred<number>();
    a.willReply(() => {
      trialArrived.resolve(Date.now());
      return failure(500, "a", { delayMs: 250 });
    });
    const { pending: trial } = await sendUntilArrived(proxy, "duo", trialArrived.promise);
    const trialAt = await trialArrived.promise;
    expect(await targetHealth(proxy, "duo", "a")).toMatchObject({ state: "half-open", inFlight: 1 });
    const during = await Promise.all([0, 1, 2].map(async () => outcome(await chat(proxy!, "duo"))));
    for (const answer of during) expect(answer).toMatchObject({ status: 200, servedBy: "duo/b", attempts: "1" });
    const trialAnswer = await outcome(await trial);
    const trialDone = Date.now();
    expect(trialAnswer).toMatchObject({ status: 200, servedBy: "duo/b", attempts: "2" });
    expect(modelRequests(a)).toHaveLength(3);

    // The failed trial doubled the wait: 600 ms from the failure (which came 250 ms after arrival).
    const doubled = await targetHealth(proxy, "duo", "a");
    expect(doubled).toMatchObject({ state: "cooling", consecutiveFailures: 3, inFlight: 0 });
    const secondUntil = untilMs(doubled);
    expect(secondUntil).toBeGreaterThanOrEqual(trialAt + 250 + 600 - 5);
    expect(secondUntil).toBeLessThanOrEqual(trialDone + 600);

    // The next trial succeeds: A is up again with its failures forgotten.
    await waitPast(secondUntil);
    expect(await targetHealth(proxy, "duo", "a")).toMatchObject({ state: "half-open" });
    const recovered = deferred<number>();
    a.willReply((request) => {
      recovered.resolve(Date.now());
      return completion("a", request);
    });
    const good = await outcome(await (await sendUntilArrived(proxy, "duo", recovered.promise)).pending);
    expect(good).toMatchObject({ status: 200, servedBy: "duo/a", attempts: "1" });
    expect(await targetHealth(proxy, "duo", "a")).toEqual({
      name: "a",
      state: "up",
      inFlight: 0,
      ewmaTtfbMs: expect.any(Number),
      consecutiveFailures: 0,
      cooldownUntil: null,
    });

    // Back in the rotation: two more requests go one to each target.
    const servedBy = [];
    for (let i = 0; i < 2; i++) servedBy.push((await outcome(await chat(proxy, "duo"))).servedBy);
    expect(servedBy.sort()).toEqual(["duo/a", "duo/b"]);
  });

  test("a body that breaks after its headers counts against the target: two in a row cool it down", async () => {
    const a = mock("a");
    const b = mock("b");
    const proxy = await startProxy(duo(a, b, { cooldown: { failures: 2, seconds: 30 }, timeouts: { idleMs: 100 } }));
    // A answers 200 and the start of a body, then falls silent: each answer is cut after idleMs.
    a.willReply(reply.sse(['{"id":"chatcmpl-a",'], { stallAfter: 1, headers: { "content-type": "application/json" } }));
    b.willReply((request) => completion("b", request));
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const response = await chat(proxy, "duo");
      statuses.push(response.status);
      await response.arrayBuffer().catch(() => null);
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(modelRequests(a)).toHaveLength(2);
    expect(await targetHealth(proxy, "duo", "a")).toMatchObject({ state: "cooling", consecutiveFailures: 2 });
    for (let i = 0; i < 2; i++) expect(await outcome(await chat(proxy, "duo"))).toMatchObject({ status: 200, servedBy: "duo/b", attempts: "1" });
    expect(modelRequests(a)).toHaveLength(2);
  });

  test("a client that leaves mid-stream does not judge the target: the failures in a row before it still count", async () => {
    const a = mock("a");
    const proxy = await startProxy({ endpoints: { lone: { url: a.url, cooldown: { failures: 2, seconds: 30 }, timeouts: { idleMs: 100 } } } });
    // A answers 200 and the start of a stream, then falls silent.
    a.willReply(reply.sse(['data: {"id":"chatcmpl-a"}\n\n'], { stallAfter: 1 }));
    await (await chat(proxy, "lone", { stream: true })).text();
    expect(await targetHealth(proxy, "lone", "lone#0")).toMatchObject({ state: "up", consecutiveFailures: 1 });

    // A client stops reading after the first chunk: no body came whole, so the count is not reset.
    const { reader } = await readFirstChunk(await chat(proxy, "lone", { stream: true }));
    await reader.cancel();
    await a.requests[1]!.closed;
    expect(await targetHealth(proxy, "lone", "lone#0")).toMatchObject({ inFlight: 0, consecutiveFailures: 1 });

    // The next body that breaks is the second failure in a row: the target goes out.
    await (await chat(proxy, "lone", { stream: true })).text();
    expect(await targetHealth(proxy, "lone", "lone#0")).toMatchObject({ state: "cooling", consecutiveFailures: 2 });
  });

  test("a lone target is never cooled down unless its own model sets cooldown", async () => {
    const solo = mock("solo");
    const strict = mock("strict");
    const proxy = await startProxy({
      endpoints: {
        solo: { url: solo.url },
        strict: { url: strict.url, cooldown: { failures: 2, seconds: 30 } },
      },
      // Top-level defaults are not the model asking for it.
      cooldown: { failures: 1, seconds: 30 },
    });
    solo.willReply(() => failure(500, "solo"));
    strict.willReply(() => failure(500, "strict"));

    for (let i = 1; i <= 5; i++) {
      const answer = await outcome(await chat(proxy, "solo"));
      expect(answer).toMatchObject({ status: 500, model: "solo", servedBy: "solo/solo#0", attempts: "1" });
      expect(JSON.parse(answer.text).error.message).toBe("solo failed with 500");
    }
    expect(modelRequests(solo)).toHaveLength(5);
    expect(await targetHealth(proxy, "solo", "solo#0")).toMatchObject({ state: "up", consecutiveFailures: 5, cooldownUntil: null });
    expect((await health(proxy)).status).toBe("ok");

    // The model that asked for it cools down after 2 failures, and is degraded then.
    for (let i = 0; i < 2; i++) expect((await chat(proxy, "strict")).status).toBe(500);
    expect(await targetHealth(proxy, "strict", "strict#0")).toMatchObject({ state: "cooling", consecutiveFailures: 2 });
    expect((await health(proxy)).status).toBe("degraded");
    // Still tried rather than failing outright: its lone target is the one that returns soonest.
    strict.willReply((request) => completion("strict", request));
    expect(await outcome(await chat(proxy, "strict"))).toMatchObject({ status: 200, servedBy: "strict/strict#0", attempts: "1" });
    expect(modelRequests(strict)).toHaveLength(3);
  });

  test("a model whose every target is cooling still sends the request to the one back soonest", async () => {
    const a = mock("a");
    const b = mock("b");
    const proxy = await startProxy({
      endpoints: {
        pair: {
          targets: [
            { name: "a", url: a.url },
            { name: "b", url: b.url },
          ],
          cooldown: { failures: 1, seconds: 30 },
          retry: { attempts: 1 },
        },
      },
    });
    // Round-robin: A, then B. B fails first, then A: B comes back sooner.
    a.willReply((request) => completion("a", request));
    b.willReply(() => failure(503, "b"));
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 200, servedBy: "pair/a" });
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 503, servedBy: "pair/b" });
    // Cool-downs are kept in ms: let the clock move on, so A's ends strictly after B's.
    const bFailedAt = Date.now();
    for (let i = 0; i < 100 && Date.now() <= bFailedAt; i++) await Bun.sleep(1);
    a.willReply(() => failure(503, "a"));
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 503, servedBy: "pair/a" });

    const report = await health(proxy);
    expect(report.status).toBe("degraded");
    const [ta, tb] = report.models.find((m) => m.id === "pair")!.targets;
    expect(ta).toMatchObject({ name: "a", state: "cooling" });
    expect(tb).toMatchObject({ name: "b", state: "cooling" });
    expect(untilMs(tb!)).toBeLessThan(untilMs(ta!));

    b.willReply((request) => completion("b", request));
    const served = await outcome(await chat(proxy, "pair"));
    expect(served).toMatchObject({ status: 200, servedBy: "pair/b", attempts: "1" });
    expect(JSON.parse(served.text).choices[0].message.content).toBe("from b");
    expect(modelRequests(a)).toHaveLength(2);
    expect(modelRequests(b)).toHaveLength(2);
  });
});

describe("Retry-After and the breaker", () => {
  /** A pair whose first request goes to a (round-robin), a answering `status` with `headers`, b serving. */
  async function pairWithAsking(status: number, headers: Record<string, string>, cooldown: { failures: number; seconds: number }) {
    const a = mock("a");
    const b = mock("b");
    const proxy = await startProxy({
      endpoints: {
        pair: {
          targets: [
            { name: "a", url: a.url },
            { name: "b", url: b.url },
          ],
          cooldown,
          retry: { attempts: 2, backoffMs: 0 },
        },
      },
    });
    a.willReply(() => failure(status, "a", { headers }));
    b.willReply((request) => completion("b", request));
    const asked = Date.now();
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 200, servedBy: "pair/b", attempts: "2" });
    return { proxy, asked, a };
  }

  const pastDate = () => new Date(Date.now() - 60_000).toUTCString();
  for (const { form, headers } of [
    { form: "Retry-After: 0", headers: () => ({ "retry-after": "0" }) },
    { form: "Retry-After: -1", headers: () => ({ "retry-after": "-1" }) },
    { form: "Retry-After: <a date gone by>", headers: () => ({ "retry-after": pastDate() }) },
    { form: "retry-after-ms: 0", headers: () => ({ "retry-after-ms": "0" }) },
  ]) {
    test(`a 503 with ${form} asks no rest: it counts as a failure, and with failures: 1 the target cools down`, async () => {
      const { proxy, asked, a } = await pairWithAsking(503, headers(), { failures: 1, seconds: 30 });
      const health = await targetHealth(proxy, "pair", "a");
      expect(health).toMatchObject({ state: "cooling", consecutiveFailures: 1 });
      expect(untilMs(health) - asked).toBeGreaterThanOrEqual(29_000);
      expect(untilMs(health) - asked).toBeLessThanOrEqual(31_000);
      for (let i = 0; i < 4; i++) expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 200, servedBy: "pair/b", attempts: "1" });
      expect(modelRequests(a)).toHaveLength(1);
    });
  }

  for (const status of [429, 503]) {
    test(`a ${status} with Retry-After: 99999999999 rests the target for 10 × cooldown.seconds at most, without counting a failure`, async () => {
      const { proxy, asked } = await pairWithAsking(status, { "retry-after": "99999999999" }, { failures: 3, seconds: 60 });
      const health = await targetHealth(proxy, "pair", "a");
      expect(health).toMatchObject({ state: "cooling", consecutiveFailures: 0 });
      expect(untilMs(health) - asked).toBeGreaterThanOrEqual(599_000);
      expect(untilMs(health) - asked).toBeLessThanOrEqual(601_000);
    });
  }
});

/**
 * Sends requests one at a time until one reaches the target whose script resolves `arrived`
 * (round-robin over two usable targets reaches it within two), and returns that request's
 * response promise, unresolved while the target holds it (wrapped: an async function would adopt it).
 */
async function sendUntilArrived(proxy: ProxyHandle, model: string, arrived: Promise<unknown>): Promise<{ pending: Promise<Response> }> {
  for (let i = 0; i < 2; i++) {
    const pending = chat(proxy, model);
    const first = await Promise.race([arrived.then(() => "arrived" as const), pending.then(() => "answered" as const)]);
    if (first === "arrived") return { pending };
    await (await pending).text();
  }
  throw new Error("two requests went by without reaching the half-open target");
}
