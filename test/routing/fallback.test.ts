// Fallbacks, black box: when every try on the requested model failed with a retryable outcome,
// the request goes to each model in its `fallbacks` in order (each with its own targets, backend
// model name and retry policy), never following a fallback's own fallbacks. The client sees the
// model it asked for, what served it and how many tries it took.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { startMock, type MockBackend } from "../support/mock-backend";
import { removeTempDirs, type ProxyHandle } from "../support/proxy";
import { Arrivals, chat, completion, failure, health, modelRequests, outcome, startProxy } from "./lib-b";

const KEYS = { a1: "sk-a1-0123456789-fallback", a2: "sk-a2-0123456789-fallback", b: "sk-b-0123456789-fallback", c: "sk-c-0123456789-fallback" };

let a1: MockBackend, a2: MockBackend, b1: MockBackend, c1: MockBackend, d1: MockBackend;
let proxy: ProxyHandle;
let arrivals: Arrivals;

beforeAll(async () => {
  [a1, a2, b1, c1, d1] = [startMock("a1"), startMock("a2"), startMock("b1"), startMock("c1"), startMock("d1")];
  proxy = await startProxy({
    endpoints: {
      A: {
        actualModelName: "model-a",
        targets: [
          { name: "a1", url: a1.url, apiKey: KEYS.a1 },
          { name: "a2", url: a2.url, apiKey: KEYS.a2 },
        ],
        fallbacks: ["B", "C"],
        // Failures in one test must not cool A's targets down for the next.
        cooldown: { failures: 100, seconds: 1 },
      },
      // B's own retry policy applies when it serves as a fallback: two tries on its lone target.
      B: { url: b1.url, apiKey: KEYS.b, actualModelName: "model-b", retry: { attempts: 2 }, fallbacks: ["D"] },
      C: { url: c1.url, apiKey: KEYS.c, actualModelName: "model-c" },
      D: { url: d1.url, actualModelName: "model-d" },
    },
    retry: { backoffMs: 0 },
  });
});

beforeEach(() => {
  for (const mock of [a1, a2, b1, c1, d1]) mock.reset();
  arrivals = new Arrivals();
});

afterAll(async () => {
  await proxy.stop();
  await Promise.all([a1, a2, b1, c1, d1].map((mock) => mock.stop()));
  removeTempDirs();
});

describe("fallback chain", () => {
  test("A's targets fail, then B's, then C serves: in that order, with each model's own name and key", async () => {
    arrivals.script(a1, "a1", () => failure(503, "a1"));
    arrivals.script(a2, "a2", () => failure(503, "a2"));
    arrivals.script(b1, "b1", () => failure(503, "b1"));
    arrivals.script(c1, "c1", (request) => completion("c1", request));
    arrivals.script(d1, "d1", (request) => completion("d1", request));

    const answer = await outcome(await chat(proxy, "A"));
    expect(answer).toMatchObject({ status: 200, model: "A", servedBy: "C/C#0", attempts: "5" });
    expect(JSON.parse(answer.text)).toMatchObject({ model: "model-c", choices: [{ message: { content: "from c1" } }] });

    // Both of A's targets (in either round-robin order), B twice (its own retry), then C; never D.
    expect(arrivals.order.slice(0, 2).sort()).toEqual(["a1", "a2"]);
    expect(arrivals.order.slice(2)).toEqual(["b1", "b1", "c1"]);
    expect(modelRequests(d1)).toHaveLength(0);

    // Each model's backend got that model's backend name and key, never another's.
    const seen = (mock: MockBackend) => modelRequests(mock).map((r) => [r.json().model, r.headers.get("authorization")]);
    expect(seen(a1)).toEqual([["model-a", `Bearer ${KEYS.a1}`]]);
    expect(seen(a2)).toEqual([["model-a", `Bearer ${KEYS.a2}`]]);
    expect(seen(b1)).toEqual([
      ["model-b", `Bearer ${KEYS.b}`],
      ["model-b", `Bearer ${KEYS.b}`],
    ]);
    expect(seen(c1)).toEqual([["model-c", `Bearer ${KEYS.c}`]]);
  });

  test("when the whole chain fails, the client gets the last backend answer with the routing headers", async () => {
    arrivals.script(a1, "a1", () => failure(503, "a1"));
    arrivals.script(a2, "a2", () => failure(503, "a2"));
    arrivals.script(b1, "b1", () => failure(502, "b1"));
    arrivals.script(c1, "c1", () => failure(500, "c1", { headers: { "x-backend-says": "c1-broke" } }));
    arrivals.script(d1, "d1", (request) => completion("d1", request));

    const response = await chat(proxy, "A");
    expect(response.headers.get("x-backend-says")).toBe("c1-broke");
    const answer = await outcome(response);
    expect(answer).toMatchObject({ status: 500, model: "A", servedBy: "C/C#0", attempts: "5" });
    expect(JSON.parse(answer.text).error.message).toBe("c1 failed with 500");
    expect(arrivals.order.slice(2)).toEqual(["b1", "b1", "c1"]);
    // A fallback's own fallbacks are never followed.
    expect(modelRequests(d1)).toHaveLength(0);
  });

  test("a fallback asked for directly follows its own fallbacks", async () => {
    arrivals.script(b1, "b1", () => failure(503, "b1"));
    arrivals.script(d1, "d1", (request) => completion("d1", request));
    const answer = await outcome(await chat(proxy, "B"));
    expect(answer).toMatchObject({ status: 200, model: "B", servedBy: "D/D#0", attempts: "3" });
    expect(arrivals.order).toEqual(["b1", "b1", "d1"]);
    expect(modelRequests(d1)[0]!.json().model).toBe("model-d");
  });

  test("a non-retryable 400 from A goes straight to the client: no retry, no fallback", async () => {
    for (const [mock, label] of [
      [a1, "a1"],
      [a2, "a2"],
    ] as const) {
      arrivals.script(mock, label, () => failure(400, label));
    }
    arrivals.script(b1, "b1", (request) => completion("b1", request));
    arrivals.script(c1, "c1", (request) => completion("c1", request));

    const answer = await outcome(await chat(proxy, "A"));
    expect(answer.status).toBe(400);
    expect(answer).toMatchObject({ model: "A", attempts: "1" });
    expect(answer.servedBy).toMatch(/^A\/a[12]$/);
    expect(JSON.parse(answer.text).error.message).toBe(`${answer.servedBy!.slice(2)} failed with 400`);
    expect(arrivals.order).toHaveLength(1);
    expect(modelRequests(b1)).toHaveLength(0);
    expect(modelRequests(c1)).toHaveLength(0);
  });

  test("a streamed request falls back the same way before any byte reached the client", async () => {
    arrivals.script(a1, "a1", () => failure(503, "a1"));
    arrivals.script(a2, "a2", () => failure(503, "a2"));
    arrivals.script(b1, "b1", () => failure(503, "b1"));
    arrivals.script(c1, "c1", () => ({
      kind: "sse",
      chunks: ['data: {"choices":[{"delta":{"content":"c1"}}]}\n\n', "data: [DONE]\n\n"],
    }));
    const response = await chat(proxy, "A", { stream: true });
    const answer = await outcome(response);
    expect(answer).toMatchObject({ status: 200, model: "A", servedBy: "C/C#0", attempts: "5" });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(answer.text).toBe('data: {"choices":[{"delta":{"content":"c1"}}]}\n\ndata: [DONE]\n\n');
  });
});

describe("a model whose targets are all cooling", () => {
  let p1: MockBackend, p2: MockBackend, q1: MockBackend;
  let local: ProxyHandle;
  beforeAll(async () => {
    [p1, p2, q1] = [startMock("p1"), startMock("p2"), startMock("q1")];
    local = await startProxy({
      endpoints: {
        P: {
          targets: [
            { name: "p1", url: p1.url },
            { name: "p2", url: p2.url },
          ],
          cooldown: { failures: 1, seconds: 30 },
          retry: { backoffMs: 0 },
          fallbacks: ["Q"],
        },
        Q: { url: q1.url },
      },
    });
  });
  afterAll(async () => {
    await local.stop();
    await Promise.all([p1, p2, q1].map((mock) => mock.stop()));
    removeTempDirs();
  });

  test("is skipped for a fallback that can serve now, without touching the cooling targets", async () => {
    p1.willReply(() => failure(503, "p1"));
    p2.willReply(() => failure(503, "p2"));
    q1.willReply((request) => completion("q1", request));
    expect(await outcome(await chat(local, "P"))).toMatchObject({ status: 200, servedBy: "Q/Q#0", attempts: "3" });
    const p = (await health(local)).models.find((m) => m.id === "P")!;
    expect(p.targets.map((t) => t.state)).toEqual(["cooling", "cooling"]);

    // Now P cannot serve and Q can: Q at the first try.
    expect(await outcome(await chat(local, "P"))).toMatchObject({ status: 200, model: "P", servedBy: "Q/Q#0", attempts: "1" });
    expect(modelRequests(p1)).toHaveLength(1);
    expect(modelRequests(p2)).toHaveLength(1);
    expect(modelRequests(q1)).toHaveLength(2);
  });
});
