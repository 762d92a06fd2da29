import { describe, expect, test } from "bun:test";
import { RecentStats, weightedPercentile } from "./recent";
import { RequestRecord, type Outcome, type Try } from "./record";

interface Fake {
  model?: string | null;
  tries?: Try[];
  served?: [string, string] | null;
  status?: number;
  outcome?: Outcome;
  ttfbMs?: number | null;
  usage?: [number, number];
}

/** A finished record as the router leaves it (one try at `<model>#0` by default). */
function record({ model = "gpt", tries, served, status = 200, outcome = "ok", ttfbMs = 100, usage }: Fake = {}): RequestRecord {
  const r = new RequestRecord("id", "POST", "/v1/chat/completions", () => {});
  if (model !== null) {
    r.modelRequested = model;
    r.modelLabel = model;
    const target = `${model}#0`;
    r.tries.push(...(tries ?? [{ model, target, status, failure: null }]));
    const [servedModel, servedTarget] = served === undefined ? [model, r.tries.at(-1)?.target ?? target] : (served ?? [null, null]);
    r.servedModel = servedModel;
    r.servedTarget = servedTarget;
  }
  r.ttfbMs = ttfbMs;
  if (usage) r.usage = { promptTokens: usage[0], completionTokens: usage[1], totalTokens: usage[0] + usage[1] };
  r.status = status;
  r.outcome = outcome;
  return r;
}

/** A stats object on a clock the test moves. */
function clocked(options: { samplesPerBucket?: number; start?: number } = {}) {
  const clock = { now: options.start ?? Date.UTC(2025, 0, 1, 12) };
  const stats = new RecentStats({ now: () => clock.now, random: () => 0.999, samplesPerBucket: options.samplesPerBucket });
  return { clock, stats };
}

describe("weightedPercentile", () => {
  test("equal weights: nearest rank", () => {
    const samples = () => Array.from({ length: 100 }, (_, i) => [100 - i, 1] as [number, number]);
    expect(weightedPercentile(samples(), 0.5)).toBe(50);
    expect(weightedPercentile(samples(), 0.95)).toBe(95);
    expect(weightedPercentile([[7, 1]], 0.95)).toBe(7);
    expect(weightedPercentile([], 0.5)).toBeNull();
  });

  test("a heavy sample outweighs many light ones", () => {
    expect(
      weightedPercentile(
        [
          [1, 1],
          [2, 1],
          [3, 1],
          [50, 10],
        ],
        0.5,
      ),
    ).toBe(50);
  });
});

describe("RecentStats", () => {
  test("counts requests, errors and time to first byte per model and per target", () => {
    const { stats } = clocked({ samplesPerBucket: 128 }); // every sample kept: exact percentiles
    for (let ms = 1; ms <= 100; ms++) stats.observe(record({ ttfbMs: ms }));
    stats.observe(record({ status: 502, outcome: "upstream_error", ttfbMs: 1 }));
    stats.observe(record({ model: "llama", status: 400, ttfbMs: 5 })); // the client's fault: not an error
    stats.observe(record({ model: null })); // /models, /health: not a model request

    expect(stats.model("gpt")).toEqual({ requests: 101, errors: 1, ttfbP50Ms: 50, ttfbP95Ms: 95 });
    expect(stats.target("gpt", "gpt#0")).toEqual({ requests: 101, errors: 1, ttfbP50Ms: 50, ttfbP95Ms: 95 });
    expect(stats.model("llama")).toEqual({ requests: 1, errors: 0, ttfbP50Ms: 5, ttfbP95Ms: 5 });
    expect(stats.model("nothing")).toEqual({ requests: 0, errors: 0, ttfbP50Ms: null, ttfbP95Ms: null });
    expect(stats.target("gpt", "gpt#9")).toEqual({ requests: 0, errors: 0, ttfbP50Ms: null, ttfbP95Ms: null });
  });

  test("each try counts at its target; a fallback's tries count at the fallback model's targets", () => {
    const { stats } = clocked();
    stats.observe(
      record({
        tries: [
          { model: "gpt", target: "a", status: 503, failure: "status_503" },
          { model: "gpt", target: "b", status: 504, failure: "timeout" },
          { model: "llama", target: "c", status: 200, failure: null },
        ],
        served: ["llama", "c"],
        ttfbMs: 40,
      }),
    );
    expect(stats.model("gpt")).toEqual({ requests: 1, errors: 0, ttfbP50Ms: 40, ttfbP95Ms: 40 });
    expect(stats.target("gpt", "a")).toEqual({ requests: 1, errors: 1, ttfbP50Ms: null, ttfbP95Ms: null });
    expect(stats.target("gpt", "b")).toEqual({ requests: 1, errors: 1, ttfbP50Ms: null, ttfbP95Ms: null });
    expect(stats.target("llama", "c")).toEqual({ requests: 1, errors: 0, ttfbP50Ms: 40, ttfbP95Ms: 40 });
    // the fallback model's own request count is untouched: the request named gpt
    expect(stats.model("llama").requests).toBe(0);
  });

  test("a served answer whose body broke is an error at its target", () => {
    const { stats } = clocked();
    stats.observe(record({ status: 200, outcome: "upstream_error" }));
    stats.observe(record({ status: 200, outcome: "client_aborted" }));
    expect(stats.target("gpt", "gpt#0")).toMatchObject({ requests: 2, errors: 1 });
    expect(stats.model("gpt")).toMatchObject({ requests: 2, errors: 1 });
  });

  test("the window slides: buckets older than 5 minutes drop out one by one", () => {
    const { clock, stats } = clocked();
    clock.now = Math.floor(clock.now / 10_000) * 10_000; // the start of a bucket
    stats.observe(record({ ttfbMs: 10 }));
    clock.now += 60_000;
    stats.observe(record({ ttfbMs: 20 }));
    stats.observe(record({ ttfbMs: 20 }));
    expect(stats.model("gpt")).toEqual({ requests: 3, errors: 0, ttfbP50Ms: 20, ttfbP95Ms: 20 });
    clock.now += 239_999; // the first bucket's last moment in the window
    expect(stats.model("gpt").requests).toBe(3);
    clock.now += 1;
    expect(stats.model("gpt")).toEqual({ requests: 2, errors: 0, ttfbP50Ms: 20, ttfbP95Ms: 20 });
    clock.now += 60_000;
    expect(stats.model("gpt")).toEqual({ requests: 0, errors: 0, ttfbP50Ms: null, ttfbP95Ms: null });
    // a reused slot starts from zero
    stats.observe(record({ ttfbMs: 30 }));
    expect(stats.model("gpt")).toEqual({ requests: 1, errors: 0, ttfbP50Ms: 30, ttfbP95Ms: 30 });
  });

  test("samples are bounded per bucket, and busy buckets weigh more than quiet ones", () => {
    const { clock, stats } = clocked({ samplesPerBucket: 8 });
    for (let i = 0; i < 10_000; i++) stats.observe(record({ ttfbMs: 100 }));
    clock.now += 10_000;
    for (let i = 0; i < 8; i++) stats.observe(record({ ttfbMs: 10 }));
    // 8 kept samples each; unweighted the median would be 10
    expect(stats.model("gpt")).toEqual({ requests: 10_008, errors: 0, ttfbP50Ms: 100, ttfbP95Ms: 100 });
  });

  test("tokens today count per model and start again at 00:00 UTC", () => {
    const { clock, stats } = clocked({ start: Date.UTC(2025, 0, 1, 23, 59, 59) });
    stats.observe(record({ usage: [10, 5] }));
    stats.observe(record({ usage: [1, 2] }));
    stats.observe(record({ model: "llama", usage: [7, 0] }));
    expect(stats.tokensToday("gpt")).toEqual({ prompt: 11, completion: 7 });
    expect(stats.tokensToday("llama")).toEqual({ prompt: 7, completion: 0 });
    expect(stats.tokensToday("none")).toEqual({ prompt: 0, completion: 0 });
    clock.now = Date.UTC(2025, 0, 2, 0, 0, 0);
    expect(stats.tokensToday("gpt")).toEqual({ prompt: 0, completion: 0 });
    stats.observe(record({ usage: [3, 4] }));
    expect(stats.tokensToday("gpt")).toEqual({ prompt: 3, completion: 4 });
  });

  test("sweep drops series with nothing to show, so models that come and go do not pile up", () => {
    const { clock, stats } = clocked();
    for (let i = 0; i < 50; i++) stats.observe(record({ model: `discovered-${i}` }));
    stats.observe(record({ model: "kept", usage: [1, 1] }));
    expect(stats.size).toBe(102);
    stats.sweep();
    expect(stats.size).toBe(102); // all still in the window
    clock.now += 300_000;
    stats.sweep();
    expect(stats.size).toBe(1); // only "kept" (tokens today), without its stale target
    expect(stats.tokensToday("kept")).toEqual({ prompt: 1, completion: 1 });
  });
});
