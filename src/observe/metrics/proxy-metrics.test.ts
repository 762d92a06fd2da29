import { expect, test } from "bun:test";
import { testModel } from "../../../test/support/test-models";
import { TargetStates } from "../../targets/target-states";
import { RequestRecord } from "../record";
import { proxyMetrics } from "./proxy-metrics";
import { MetricsRegistry } from "./registry";

function setup() {
  const metrics = new MetricsRegistry();
  const states = new TargetStates();
  const models = [testModel("a", [1, 1]), testModel("b", [1])];
  const reloads = { ok: 2, rejected: 1 };
  const observe = proxyMetrics(metrics, { models: () => models, states, reloads: () => reloads, version: "9.9.9" });
  const samples = () =>
    metrics
      .render()
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"));
  return { metrics, states, models, observe, samples };
}

const record = (fill: (record: RequestRecord) => void, status: number) => {
  let ended: RequestRecord | null = null;
  const r = new RequestRecord("id", "POST", "/v1/chat/completions", (done) => (ended = done));
  fill(r);
  r.end(status);
  return ended!;
};

test("one request: a retry on the same model, then a fallback that served with usage", () => {
  const { observe, samples } = setup();
  observe(
    record((r) => {
      r.modelRequested = "a";
      r.modelLabel = "a";
      r.tries.push({ model: "a", target: "t0", status: 500, failure: "status_500" });
      r.tries.push({ model: "a", target: "t1", status: 502, failure: "connect" });
      r.tries.push({ model: "b", target: "t0", status: 200, failure: null });
      r.fallbacks.push("b");
      r.servedModel = "b";
      r.servedTarget = "t0";
      r.ttfbMs = 20;
      r.overheadMs = 0.3;
      r.usage = { promptTokens: 5, completionTokens: 7, totalTokens: 12 };
    }, 200),
  );
  const lines = samples();
  expect(lines).toContain('cm_proxy_requests_total{model="a",target="t0",code="200"} 1');
  expect(lines).toContain('cm_proxy_upstream_errors_total{model="a",target="t0",reason="status_500"} 1');
  expect(lines).toContain('cm_proxy_upstream_errors_total{model="a",target="t1",reason="connect"} 1');
  // The retry is the second try on "a"; the first try on "b" is a fallback, not a retry.
  expect(lines.filter((l) => l.startsWith("cm_proxy_retries_total"))).toEqual(['cm_proxy_retries_total{model="a",target="t1"} 1']);
  expect(lines).toContain('cm_proxy_fallbacks_total{model="a",fallback="b"} 1');
  expect(lines).toContain('cm_proxy_tokens_total{model="a",type="prompt"} 5');
  expect(lines).toContain('cm_proxy_tokens_total{model="a",type="completion"} 7');
  expect(lines).toContain('cm_proxy_time_to_first_byte_seconds_bucket{model="a",target="t0",le="0.01"} 0');
  expect(lines).toContain('cm_proxy_time_to_first_byte_seconds_bucket{model="a",target="t0",le="0.025"} 1');
  expect(lines).toContain('cm_proxy_overhead_seconds_bucket{le="0.00025"} 0');
  expect(lines).toContain('cm_proxy_overhead_seconds_bucket{le="0.0005"} 1');
  expect(lines).toContain('cm_proxy_request_duration_seconds_count{model="a",target="t0"} 1');
});

test("requests naming no model are not counted; an unknown model, and a body broken mid-way, are", () => {
  const { observe, samples } = setup();
  observe(record(() => {}, 200));
  observe(
    record((r) => {
      r.modelRequested = "secret-user-model";
      r.modelLabel = "unknown";
    }, 404),
  );
  observe(
    record((r) => {
      r.modelRequested = "b";
      r.modelLabel = "b";
      r.tries.push({ model: "b", target: "t0", status: 200, failure: null });
      r.servedModel = "b";
      r.servedTarget = "t0";
      r.bodyFailures.push({ model: "b", target: "t0", status: 504, failure: "body_timeout" });
    }, 200),
  );
  const lines = samples();
  expect(lines.filter((l) => l.startsWith("cm_proxy_requests_total"))).toEqual([
    'cm_proxy_requests_total{model="unknown",target="none",code="404"} 1',
    'cm_proxy_requests_total{model="b",target="t0",code="200"} 1',
  ]);
  expect(lines.filter((l) => l.startsWith("cm_proxy_upstream_errors_total"))).toEqual([
    'cm_proxy_upstream_errors_total{model="b",target="t0",reason="body_timeout"} 1',
  ]);
  expect(lines.join("\n")).not.toContain("secret-user-model");
});

test("gauges are read at scrape time: in flight per model, target up unless cooling, reloads, build info", () => {
  const { states, models, samples } = setup();
  const [a, b] = models;
  states.state(a!.targets[0]!).inFlight = 2;
  states.state(a!.targets[1]!).inFlight = 1;
  states.state(a!.targets[1]!).cooldownUntil = Date.now() + 60_000; // cooling
  states.state(b!.targets[0]!).cooldownUntil = Date.now() - 1; // half-open
  const lines = samples();
  expect(lines).toContain('cm_proxy_in_flight_requests{model="a"} 3');
  expect(lines).toContain('cm_proxy_in_flight_requests{model="b"} 0');
  expect(lines.filter((l) => l.startsWith("cm_proxy_target_up"))).toEqual([
    'cm_proxy_target_up{model="a",target="t0"} 1',
    'cm_proxy_target_up{model="a",target="t1"} 0',
    'cm_proxy_target_up{model="b",target="t0"} 1',
  ]);
  expect(lines).toContain('cm_proxy_config_reloads_total{result="ok"} 2');
  expect(lines).toContain('cm_proxy_config_reloads_total{result="rejected"} 1');
  expect(lines).toContain('cm_proxy_build_info{version="9.9.9"} 1');
});

test("cost: priced requests add their dollars per model; requests with usage and no price count as unpriced, never as a cost of 0", () => {
  const { observe, samples } = setup();
  const served = (model: string, costUsd: number | null, usage = true) =>
    observe(
      record((r) => {
        r.modelRequested = model;
        r.modelLabel = model;
        r.servedTarget = "t0";
        r.usage = usage ? { promptTokens: 10, completionTokens: 5, totalTokens: 15 } : null;
        r.costUsd = costUsd;
      }, 200),
    );
  served("a", 0.25);
  served("a", 0.5);
  served("b", null);
  served("b", null);
  served("b", null, false); // no usage: nothing to price
  const lines = samples();
  expect(lines.filter((l) => l.startsWith("cm_proxy_cost_usd_total"))).toEqual(['cm_proxy_cost_usd_total{model="a"} 0.75']);
  expect(lines.filter((l) => l.startsWith("cm_proxy_unpriced_requests_total"))).toEqual(['cm_proxy_unpriced_requests_total{model="b"} 2']);
});
