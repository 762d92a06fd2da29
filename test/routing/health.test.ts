// `/health`, `/ready`, active health checks and runtime state across reloads, black box. `/health`
// shows every target's state (up, cooling, half-open), requests in flight, latency estimate,
// consecutive failures and cool-down end; it is "degraded" (still 200) when some model has no
// usable target. Active checks cool a failing target down with no client request and bring a
// recovered one back. A reload keeps the state of targets whose name and URL did not change.
import { describe, expect, test } from "bun:test";
import { readFirstChunk } from "../support/http";
import { reply } from "../support/mock-backend";
import type { ProxyHandle } from "../support/proxy";
import { deferred, within } from "../support/events";
import {
  chat,
  completion,
  eventually,
  failure,
  health,
  modelRequests,
  outcome,
  reloadWith,
  perTestServers,
  targetHealth,
  untilMs,
  waitPast,
  type TargetHealth,
} from "./lib-b";

const { mock, startProxy } = perTestServers();

const fresh = (name: string): TargetHealth => ({ name, state: "up", inFlight: 0, ewmaTtfbMs: null, consecutiveFailures: 0, cooldownUntil: null });

/** A stream that sends one event and then stays open until its mock is reset. */
const stalledStream = () => reply.sse(['data: {"choices":[{"delta":{"content":"x"}}]}\n\n', "data: [DONE]\n\n"], { stallAfter: 1 });

describe("/health per target", () => {
  test("name, state, inFlight, ewmaTtfbMs, consecutiveFailures and cooldownUntil follow the requests", async () => {
    const fast = mock("fast");
    const slow = mock("slow");
    const proxy = await startProxy({
      endpoints: {
        pair: {
          displayName: "Pair",
          targets: [
            { name: "fast", url: fast.url },
            { name: "slow", url: slow.url },
          ],
          retry: { backoffMs: 0 },
        },
      },
    });
    const initial = await fetch(proxy.url("/health"));
    expect(initial.status).toBe(200);
    expect(await initial.json()).toEqual({
      status: "ok",
      endpoints: 1,
      models: [{ id: "pair", displayName: "Pair", targets: [fresh("fast"), fresh("slow")] }],
    });

    // Round-robin starts with the first target: a 40 ms answer sets its latency estimate.
    fast.willReply((request) => completion("fast", request, { delayMs: 40 }));
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 200, servedBy: "pair/fast" });
    const measured = await targetHealth(proxy, "pair", "fast");
    expect(measured).toMatchObject({ state: "up", inFlight: 0, consecutiveFailures: 0, cooldownUntil: null });
    expect(measured.ewmaTtfbMs).toBeGreaterThanOrEqual(39);
    expect(measured.ewmaTtfbMs).toBeLessThan(2000);

    // A stream in flight on the second target counts until its body ends.
    slow.willReply(stalledStream());
    const streaming = await chat(proxy, "pair", { stream: true });
    expect(streaming.headers.get("x-cm-proxy-served-by")).toBe("pair/slow");
    const { rest } = await readFirstChunk(streaming);
    const busy = await targetHealth(proxy, "pair", "slow");
    expect(busy).toMatchObject({ state: "up", inFlight: 1, consecutiveFailures: 0 });
    expect(busy.ewmaTtfbMs).toEqual(expect.any(Number));
    expect((await targetHealth(proxy, "pair", "fast")).inFlight).toBe(0);
    slow.reset(); // ends the stream
    await rest();
    await eventually(async () => ((await targetHealth(proxy!, "pair", "slow")).inFlight === 0 ? true : undefined), "inFlight back to 0");

    // A failure counts (below the default 3, the target stays up); the retry went to the other target.
    fast.willReply(() => failure(500, "fast"));
    slow.willReply((request) => completion("slow", request));
    expect(await outcome(await chat(proxy, "pair"))).toMatchObject({ status: 200, servedBy: "pair/slow", attempts: "2" });
    expect(await targetHealth(proxy, "pair", "fast")).toMatchObject({ state: "up", consecutiveFailures: 1, cooldownUntil: null, inFlight: 0 });
  });

  test('"degraded" (still 200) while a model has no usable target; a half-open one counts as usable', async () => {
    const steady = mock("steady");
    const fragile = mock("fragile");
    const proxy = await startProxy({
      endpoints: {
        steady: { url: steady.url },
        fragile: { url: fragile.url, cooldown: { failures: 1, seconds: 0.2 } },
      },
    });
    expect((await health(proxy)).status).toBe("ok");
    fragile.willReply(() => failure(502, "fragile"));
    const before = Date.now();
    expect((await chat(proxy, "fragile")).status).toBe(502);
    const after = Date.now();

    const response = await fetch(proxy.url("/v1/health"));
    expect(response.status).toBe(200);
    const report = await response.json();
    expect(report.status).toBe("degraded");
    const cooling = report.models.find((m: { id: string }) => m.id === "fragile").targets[0];
    expect(cooling).toMatchObject({ name: "fragile#0", state: "cooling", consecutiveFailures: 1 });
    expect(untilMs(cooling)).toBeGreaterThanOrEqual(before + 200);
    expect(untilMs(cooling)).toBeLessThanOrEqual(after + 200);
    expect(report.models.find((m: { id: string }) => m.id === "steady").targets[0]).toEqual(fresh("steady#0"));

    // Past the cool-down the target is half-open: usable, so the proxy is ok again.
    await waitPast(untilMs(cooling));
    expect(await targetHealth(proxy, "fragile", "fragile#0")).toMatchObject({ state: "half-open" });
    expect((await health(proxy)).status).toBe("ok");

    // While its trial is under way it takes no other request, and still counts as usable.
    const arrived = deferred();
    fragile.willReply(() => {
      arrived.resolve();
      return failure(502, "fragile", { delayMs: 150 });
    });
    const trial = chat(proxy, "fragile");
    await arrived.promise;
    expect((await health(proxy)).status).toBe("ok");
    expect((await trial).status).toBe(502);
    // The trial failed: out again, degraded again.
    expect(await targetHealth(proxy, "fragile", "fragile#0")).toMatchObject({ state: "cooling", consecutiveFailures: 2 });
    expect((await health(proxy)).status).toBe("degraded");
  });
});

describe("/ready", () => {
  test('answers 200 {"status":"ready"} while serving, at /ready and /v1/ready', async () => {
    const backend = mock("backend");
    const proxy = await startProxy({ endpoints: { m: { url: backend.url } } });
    for (const path of ["/ready", "/v1/ready"]) {
      const response = await fetch(proxy.url(path));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(await response.json()).toEqual({ status: "ready" });
    }
  });
});

describe("active health checks", () => {
  test("a target whose /v1/models fails cools down with no client request, and comes back when it answers", async () => {
    const one = mock("one");
    const two = mock("two");
    const proxy = await startProxy({
      endpoints: {
        checked: {
          targets: [
            { name: "one", url: one.url, apiKey: "sk-one-0123456789-health" },
            { name: "two", url: two.url, apiKey: "sk-two-0123456789-health" },
          ],
          healthCheck: { intervalMs: 200 },
          // Long enough that only a passing check can bring "two" back within the test.
          cooldown: { failures: 3, seconds: 30 },
        },
      },
    });
    let twoHealthy = false;
    one.willReply((request) => (request.method === "GET" ? reply.json({ object: "list", data: [] }) : completion("one", request)));
    two.willReply((request) => (twoHealthy ? reply.json({ object: "list", data: [] }) : failure(500, "two")));

    const down = await eventually(async () => {
      const target = await targetHealth(proxy!, "checked", "two");
      return target.state === "cooling" ? target : undefined;
    }, "target two cooling after a failed check");
    expect(down.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(untilMs(down)).toBeGreaterThan(Date.now() + 20_000);
    expect(await targetHealth(proxy, "checked", "one")).toMatchObject({ state: "up", consecutiveFailures: 0 });
    // No client request was needed, and each check carried its target's own key.
    expect(modelRequests(one)).toHaveLength(0);
    expect(modelRequests(two)).toHaveLength(0);
    for (const [backend, key] of [
      [one, "sk-one-0123456789-health"],
      [two, "sk-two-0123456789-health"],
    ] as const) {
      expect(backend.requests.length).toBeGreaterThan(0);
      for (const check of backend.requests) {
        expect(check.method).toBe("GET");
        expect(check.path).toBe("/v1/models");
        expect(check.headers.get("authorization")).toBe(`Bearer ${key}`);
      }
    }

    // While it is out, client requests go to "one" only.
    for (let i = 0; i < 2; i++) expect(await outcome(await chat(proxy, "checked"))).toMatchObject({ status: 200, servedBy: "checked/one", attempts: "1" });

    twoHealthy = true;
    const checksBefore = two.requests.length;
    const back = await eventually(async () => {
      const target = await targetHealth(proxy!, "checked", "two");
      return target.state === "up" ? target : undefined;
    }, "target two up after a passing check");
    expect(two.requests.length).toBeGreaterThan(checksBefore);
    expect(back).toEqual(fresh("two"));
    expect((await health(proxy)).status).toBe("ok");
  });
});

describe("active health checks across a reload", () => {
  test("a check that was under way when the target moved does not mark the new backend down", async () => {
    const dead = mock("dead");
    const alive = mock("alive");
    dead.willReply(reply.hang()); // its check times out after one interval (200 ms)
    const version = (url: string, intervalMs: number) => ({
      endpoints: { m: { targets: [{ name: "t", url }], healthCheck: { intervalMs }, cooldown: { failures: 1, seconds: 30 } } },
    });
    const proxy = await startProxy(version(dead.url, 200));
    const check = await dead.waitForRequests(1, 2000);
    // Moved to a live backend, checked rarely: only the old check can still report.
    await reloadWith(proxy, version(alive.url, 60_000));
    await within(check.closed, 2000, "the old check timing out");
    expect(await targetHealth(proxy, "m", "t")).toEqual(fresh("t"));
    expect((await health(proxy)).status).toBe("ok");
  });
});

describe("reload and runtime state", () => {
  test("unchanged targets keep their state; a target with a new URL starts fresh; a removed one disappears", async () => {
    const a = mock("a");
    const b = mock("b");
    const c = mock("c");
    const version = (options: { k1Url?: string; withK2?: boolean; otherName: string }) => ({
      endpoints: {
        keep: {
          targets: [{ name: "k1", url: options.k1Url ?? a.url }, ...(options.withK2 === false ? [] : [{ name: "k2", url: b.url }])],
          cooldown: { failures: 1, seconds: 30 },
          retry: { attempts: 1 },
        },
        other: { url: c.url, displayName: options.otherName },
      },
    });
    const proxy = await startProxy(version({ otherName: "Other v1" }));
    // k1 fails once: cooling for 30 s. k2 serves a request: it has a latency estimate.
    a.willReply(() => failure(500, "a"));
    b.willReply((request) => completion("b", request, { delayMs: 20 }));
    expect(await outcome(await chat(proxy, "keep"))).toMatchObject({ status: 500, servedBy: "keep/k1" });
    expect(await outcome(await chat(proxy, "keep"))).toMatchObject({ status: 200, servedBy: "keep/k2" });
    // A stream in flight on k2 while the config changes.
    b.willReply(stalledStream());
    const streaming = await chat(proxy, "keep", { stream: true });
    expect(streaming.headers.get("x-cm-proxy-served-by")).toBe("keep/k2");
    const { rest } = await readFirstChunk(streaming);
    const k1Before = await targetHealth(proxy, "keep", "k1");
    const k2Before = await targetHealth(proxy, "keep", "k2");
    expect(k1Before).toMatchObject({ state: "cooling", consecutiveFailures: 1 });
    expect(k2Before).toMatchObject({ state: "up", inFlight: 1, ewmaTtfbMs: expect.any(Number) });

    // A reload that changes only another model: k1 still cooling until the same instant, k2 as it was.
    await reloadWith(proxy, version({ otherName: "Other v2" }));
    const afterOther = await health(proxy);
    expect(afterOther.models.find((m) => m.id === "other")!.displayName).toBe("Other v2");
    expect(afterOther.models.find((m) => m.id === "keep")!.targets).toEqual([k1Before, k2Before]);
    b.reset();
    await rest();
    await eventually(async () => ((await targetHealth(proxy!, "keep", "k2")).inFlight === 0 ? true : undefined), "k2 inFlight back to 0");

    // k1 now points elsewhere: a new backend starts fresh. k2 keeps its estimate.
    await reloadWith(proxy, version({ otherName: "Other v2", k1Url: c.url }));
    expect(await targetHealth(proxy, "keep", "k1")).toEqual(fresh("k1"));
    expect(await targetHealth(proxy, "keep", "k2")).toMatchObject({ ewmaTtfbMs: k2Before.ewmaTtfbMs, inFlight: 0 });

    // k2 removed: gone from /health; added back later: its old state is gone too.
    await reloadWith(proxy, version({ otherName: "Other v2", k1Url: c.url, withK2: false }));
    expect((await health(proxy)).models.find((m) => m.id === "keep")!.targets.map((t) => t.name)).toEqual(["k1"]);
    await reloadWith(proxy, version({ otherName: "Other v2", k1Url: c.url }));
    expect(await targetHealth(proxy, "keep", "k2")).toEqual(fresh("k2"));
  });

  test("a request in flight across a reload that moved its target retries on the old backend without resetting the new one's state", async () => {
    const a = mock("a");
    const b = mock("b");
    const version = (url: string) => ({
      endpoints: { m: { targets: [{ name: "t", url }], retry: { attempts: 2, backoffMs: 0, retryOn: [599] }, cooldown: { failures: 1, seconds: 30 } } },
    });
    const proxy = await startProxy(version(a.url));
    a.willReply(reply.hang());
    const old = chat(proxy, "m");
    await a.waitForRequests(1);

    // The new backend fails: it cools down.
    await reloadWith(proxy, version(b.url));
    b.willReply(() => failure(599, "b"));
    expect(await outcome(await chat(proxy, "m"))).toMatchObject({ status: 599, servedBy: "m/t" });
    const cooling = await targetHealth(proxy, "m", "t");
    expect(cooling).toMatchObject({ state: "cooling", consecutiveFailures: 2 });

    // The old request's first try ends (599): its retry goes to the old backend, as its model said.
    a.reset();
    expect(await outcome(await old)).toMatchObject({ status: 200, servedBy: "m/t", attempts: "2" });
    expect(modelRequests(a)).toHaveLength(1);
    expect(await targetHealth(proxy, "m", "t")).toEqual(cooling);
  });

  test("a request in flight across a reload that moved its target leaves the new target's count alone", async () => {
    const a = mock("a");
    const b = mock("b");
    const version = (url: string) => ({ endpoints: { m: { targets: [{ name: "t", url }] } } });
    const proxy = await startProxy(version(a.url));
    a.willReply(stalledStream());
    const streaming = await chat(proxy, "m", { stream: true });
    const { rest } = await readFirstChunk(streaming);
    expect(await targetHealth(proxy, "m", "t")).toMatchObject({ inFlight: 1 });

    await reloadWith(proxy, version(b.url));
    expect(await targetHealth(proxy, "m", "t")).toEqual(fresh("t"));
    a.reset(); // the old request ends on the old backend
    await rest();
    b.willReply((request) => completion("b", request));
    expect(await outcome(await chat(proxy, "m"))).toMatchObject({ status: 200, servedBy: "m/t" });
    expect(await targetHealth(proxy, "m", "t")).toMatchObject({ inFlight: 0, consecutiveFailures: 0 });
  });
});
