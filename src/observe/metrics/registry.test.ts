import { describe, expect, test } from "bun:test";
import { escapeLabelValue, formatValue, MetricsRegistry } from "./registry";

describe("MetricsRegistry", () => {
  test("counters render HELP, TYPE and one line per label set, in first-seen order", () => {
    const metrics = new MetricsRegistry();
    const requests = metrics.counter("x_requests_total", "Requests.", ["model", "code"]);
    requests.inc(["a", "200"]);
    requests.inc(["b", "502"], 2);
    requests.inc(["a", "200"], 3);
    requests.inc(["a", "200"], -5); // a counter never goes down
    requests.inc(["a", "200"], Number.NaN);
    expect(metrics.render()).toBe(
      '# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\nx_requests_total{model="a",code="200"} 4\nx_requests_total{model="b",code="502"} 2\n',
    );
  });

  test("families without labels render a zero sample from the start", () => {
    const metrics = new MetricsRegistry();
    metrics.counter("x_total", "X.");
    metrics.gauge("x_level", "Level.");
    expect(metrics.render()).toBe("# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n# HELP x_level Level.\n# TYPE x_level gauge\nx_level 0\n");
  });

  test("histograms count each observation in its bucket, rendered cumulative, with sum and count", () => {
    const metrics = new MetricsRegistry();
    const latency = metrics.histogram("x_seconds", "Latency.", ["model"], [0.1, 1, 10]);
    for (const value of [0.05, 0.1, 0.5, 2, 100]) latency.observe(["m"], value);
    latency.observe(["m"], Number.NaN); // ignored
    expect(metrics.render()).toBe(
      [
        "# HELP x_seconds Latency.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{model="m",le="0.1"} 2',
        'x_seconds_bucket{model="m",le="1"} 3',
        'x_seconds_bucket{model="m",le="10"} 4',
        'x_seconds_bucket{model="m",le="+Inf"} 5',
        'x_seconds_sum{model="m"} 102.65',
        'x_seconds_count{model="m"} 5',
        "",
      ].join("\n"),
    );
  });

  test("label values and help text are escaped", () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const metrics = new MetricsRegistry();
    metrics.counter("x_total", 'Help with \\ and\na line "quoted".', ["v"]).inc(['q"\\\n']);
    expect(metrics.render()).toBe('# HELP x_total Help with \\\\ and\\na line "quoted".\n# TYPE x_total counter\nx_total{v="q\\"\\\\\\n"} 1\n');
  });

  test("families read at scrape time: counterFn, gaugeFn, collect; null and duplicate samples are skipped", () => {
    const metrics = new MetricsRegistry();
    let dropped = 0;
    metrics.counterFn("x_dropped_total", "Dropped.", () => dropped);
    metrics.gaugeFn("x_maybe", "Maybe.", () => null);
    metrics.collect("x_up", "Up.", "gauge", ["target"], (emit) => {
      emit(["a"], 1);
      emit(["a"], 0);
      emit(["b"], 0);
      emit(["c", "extra"], 1);
    });
    dropped = 7;
    expect(metrics.render()).toBe(
      "# HELP x_dropped_total Dropped.\n# TYPE x_dropped_total counter\nx_dropped_total 7\n" +
        "# HELP x_maybe Maybe.\n# TYPE x_maybe gauge\n" +
        '# HELP x_up Up.\n# TYPE x_up gauge\nx_up{target="a"} 1\nx_up{target="b"} 0\n',
    );
  });

  test("a family that throws at scrape time loses its samples for that scrape only, and is reported", () => {
    const errors: string[] = [];
    const metrics = new MetricsRegistry((_, name) => errors.push(name));
    metrics.collect("x_bad", "Bad.", "gauge", ["k"], (emit) => {
      emit(["a"], 1);
      throw new Error("boom");
    });
    metrics.counter("x_total", "X.");
    expect(metrics.render()).toBe("# HELP x_bad Bad.\n# TYPE x_bad gauge\n# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
    expect(errors).toEqual(["x_bad"]);
  });

  test("bad names, duplicates, histogram name clashes and bad buckets throw when registered", () => {
    const metrics = new MetricsRegistry();
    metrics.histogram("x_seconds", "X.", [], [1]);
    expect(() => metrics.counter("x_seconds_count", "Clash.")).toThrow(/twice/);
    expect(() => metrics.gauge("x_seconds", "Dup.")).toThrow(/twice/);
    expect(() => metrics.counter("bad-name", "Bad.")).toThrow(/invalid metric name/);
    expect(() => metrics.counter("x2_total", "Bad label.", ["__reserved"])).toThrow(/invalid label/);
    expect(() => metrics.counter("x3_total", "Twice.", ["a", "a"])).toThrow(/twice/);
    expect(() => metrics.histogram("x4_seconds", "le.", ["le"], [1])).toThrow(/le/);
    expect(() => metrics.histogram("x5_seconds", "Order.", [], [1, 1])).toThrow(/increasing/);
    expect(() => metrics.counter("x6_total", "Arity.", ["a"]).inc(["a", "b"])).toThrow(/label value/);
  });

  test("values use Prometheus's spelling of the infinities and NaN", () => {
    expect([Infinity, -Infinity, Number.NaN, 0.25, 3].map(formatValue)).toEqual(["+Inf", "-Inf", "NaN", "0.25", "3"]);
  });
});
