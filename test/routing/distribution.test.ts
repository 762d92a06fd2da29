// How each strategy spreads requests over a model's targets, seen from the backends (issue 9,
// "Distribution"): weighted and round-robin exactly, least-busy away from a busy target, latency
// towards the faster target while still sampling the slower one.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { within } from "../support/events";
import { chatBody, postJson } from "../support/http";
import { reply, startMock, type MockBackend } from "../support/mock-backend";
import { removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { routing } from "./lib-a";
import { pool } from "../support/pool";

let proxy: ProxyHandle;
let a: MockBackend, b: MockBackend, c: MockBackend;

beforeAll(async () => {
  [a, b, c] = [startMock("a"), startMock("b"), startMock("c")];
  proxy = await startProxy({
    endpoints: {
      weighted: {
        targets: [
          { name: "one", url: a.url, weight: 1 },
          { name: "two", url: b.url, weight: 2 },
          { name: "three", url: c.url, weight: 3 },
        ],
      },
      rr: {
        strategy: "round-robin",
        targets: [
          { name: "a", url: a.url },
          { name: "b", url: b.url },
          { name: "c", url: c.url },
        ],
      },
      busy: {
        strategy: "least-busy",
        targets: [
          { name: "a", url: a.url },
          { name: "b", url: b.url },
        ],
      },
      latency: {
        strategy: "latency",
        targets: [
          { name: "fast", url: a.url },
          { name: "slow", url: b.url },
        ],
      },
    },
  });
});
beforeEach(() => {
  for (const mock of [a, b, c]) mock.reset();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([a.stop(), b.stop(), c.stop()]);
  removeTempDirs();
});

/** One chat request for `model`, answered and read whole; returns the target that served it. */
async function served(model: string, init: RequestInit = {}): Promise<string> {
  const response = await within(postJson(proxy.url("/v1/chat/completions"), chatBody(model), {}, init), 3000, `a request to ${model}`);
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return routing(response).servedBy!.slice(model.length + 1);
}

describe("distribution over targets", () => {
  test("weighted 1/2/3: 600 requests land exactly 100/200/300, and every run of 6 already holds 1/2/3", async () => {
    // Sequentially first, so the order the router chose is the order observed.
    const order = await pool(60, 1, () => served("weighted"));
    for (let start = 0; start < order.length; start += 6) {
      const run = order.slice(start, start + 6);
      expect({ start, one: run.filter((t) => t === "one").length, two: run.filter((t) => t === "two").length }).toEqual({ start, one: 1, two: 2 });
    }
    // The rest with some concurrency: the counts must still come out exact.
    await pool(540, 8, () => served("weighted"));
    expect([a.requests.length, b.requests.length, c.requests.length]).toEqual([100, 200, 300]);
  });

  test("round-robin: 90 requests over 3 targets, 30 each, in a fixed cycle", async () => {
    const order = await pool(90, 1, () => served("rr"));
    expect(new Set(order.slice(0, 3)).size).toBe(3);
    for (let i = 3; i < order.length; i++) expect({ i, target: order[i] }).toEqual({ i, target: order[i % 3] });
    expect([a.requests.length, b.requests.length, c.requests.length]).toEqual([30, 30, 30]);
    // The headers name the targets the backends say they were.
    expect(["a", "b", "c"].map((name) => order.filter((t) => t === name).length)).toEqual([30, 30, 30]);
  });

  test("least-busy: while one target holds a slow request, new requests go to the idle one", async () => {
    a.willReply(reply.hang());
    b.willReply(reply.hang());
    const held = new AbortController();
    const holding = postJson(proxy.url("/v1/chat/completions"), chatBody("busy"), {}, { signal: held.signal }).catch(() => null);
    await within(Promise.race([a.waitForRequests(1), b.waitForRequests(1)]), 3000, "the held request reaching a backend");
    const [busy, idle] = a.requests.length === 1 ? [a, b] : [b, a];
    idle.reset(); // the idle target now answers at once; the busy one keeps hanging
    try {
      const order = await pool(12, 1, () => served("busy"));
      expect(order).toEqual(Array(12).fill(idle.name));
      expect(busy.requests.length).toBe(1);
      expect(idle.requests.length).toBe(12);
    } finally {
      held.abort();
      await holding;
    }
  });

  test("latency: after warm-up the faster target gets nearly everything, the slower one still some", async () => {
    b.willReply((request) => reply.json({ ...request.json(), from: "slow" }, { delayMs: 30 }));
    await pool(20, 1, () => served("latency")); // warm-up: both measured
    const [fastBefore, slowBefore] = [a.requests.length, b.requests.length];
    const order = await pool(500, 1, () => served("latency"));
    const slow = order.filter((t) => t === "slow").length;
    expect(b.requests.length - slowBefore).toBe(slow);
    expect(a.requests.length - fastBefore).toBe(500 - slow);
    // Explore share 5 %, half of it landing on the slow target: about 12 of 500 (50 % without latency routing).
    expect(slow).toBeGreaterThan(0);
    expect(slow).toBeLessThan(50);
  });
});
