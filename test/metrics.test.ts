// `/metrics` (issue 10), black box: the exposition passes `promtool check metrics` (Debian's
// `prometheus` package; `make test` installs it, and its absence fails this file rather than skipping it),
// the route is guarded like `/debug`, and after a known sequence of requests (successes, a 502, a
// retry, a fallback, a stream, an unknown model) every counter and histogram has moved by exactly
// what that sequence implies. No key, URL, user or unknown model id ever appears in it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { chatBody, expectOpenAIError, postJson, readBody } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { closedPort, CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "./support/proxy";
import { recordText, registerSecret } from "./support/transcript";
import { VERSION } from "../src/lib/version";
import { promtool } from "./support/promtool";

const KEYS = {
  solo: registerSecret("sk-solo-0123456789-metrics-secret", "metrics test: solo backend key"),
  down: registerSecret("sk-down-0123456789-metrics-secret", "metrics test: down backend key"),
  pair: registerSecret("sk-pair-0123456789-metrics-secret", "metrics test: pair backend key"),
  backup: registerSecret("sk-backup-0123456789-metrics-secret", "metrics test: backup backend key"),
  admin: registerSecret("ak-admin-0123456789-metrics-secret", "metrics test: admin key"),
};
const USER_EMAIL = "someone.private@example.org";
const UNKNOWN_ID = "no-such-model-xyz";

let solo: MockBackend, p1: MockBackend, p2: MockBackend, failing: MockBackend, backup: MockBackend, stall: MockBackend;
let proxy: ProxyHandle;
const downUrl = () => `http://127.0.0.1:${closedPort()}`;

const completion = (content: string, prompt: number, completionTokens: number) => ({
  id: "chatcmpl-x",
  object: "chat.completion",
  created: 1700000000,
  model: "backend",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
});

const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const STREAM = [
  chunk({ id: "s", object: "chat.completion.chunk", created: 1, model: "backend", choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] }),
  chunk({ id: "s", object: "chat.completion.chunk", created: 1, model: "backend", choices: [{ index: 0, delta: { content: "lo" }, finish_reason: "stop" }] }),
  chunk({
    id: "s",
    object: "chat.completion.chunk",
    created: 1,
    model: "backend",
    choices: [],
    usage: { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 },
  }),
  "data: [DONE]\n\n",
];

beforeAll(async () => {
  [solo, p1, p2, failing, backup, stall] = [startMock("solo"), startMock("p1"), startMock("p2"), startMock("failing"), startMock("backup"), startMock("stall")];
  proxy = await startProxy(
    {
      endpoints: {
        solo: { url: solo.url, apiKey: KEYS.solo, actualModelName: "backend-solo-name" },
        down: { url: downUrl(), apiKey: KEYS.down },
        // One failure cools a target down for a minute: the retried-away target reads 0 in target_up.
        pair: {
          targets: [
            { name: "p1", url: p1.url },
            { name: "p2", url: p2.url },
          ],
          apiKey: KEYS.pair,
          retry: { attempts: 2, backoffMs: 0 },
          cooldown: { failures: 1, seconds: 60 },
        },
        primary: { url: failing.url, fallbacks: ["backup"] },
        backup: { url: backup.url, apiKey: KEYS.backup },
        // A stream that falls silent after its first chunk: broken mid-body by the idle timeout.
        stall: { url: stall.url, timeouts: { idleMs: 150 } },
      },
    },
    { label: "metrics proxy log" },
  );
});

afterAll(async () => {
  await proxy.stop();
  await Promise.all([solo, p1, p2, failing, backup, stall].map((mock) => mock.stop()));
  removeTempDirs();
});

/** The samples of an exposition, by `name{labels}`. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(handle: ProxyHandle = proxy, path = "/metrics", headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(handle.url(path), { headers });
  const text = await response.text();
  recordText(`GET ${path} (metrics test)`, text);
  expect({ status: response.status, contentType: response.headers.get("content-type") }).toEqual({
    status: 200,
    contentType: "text/plain; version=0.0.4; charset=utf-8",
  });
  return text;
}

/** Waits until the request that got `response` has ended (its access-log line is written right before the metrics observer runs). */
async function ended(response: Response): Promise<void> {
  const id = response.headers.get("x-request-id");
  expect(id).toBeTruthy();
  await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(`"requestId":"${id}"`)), 5000, `the end of request ${id}`);
}

async function chat(model: string, extra: Record<string, unknown> = {}): Promise<{ status: number; text: string }> {
  const response = await postJson(proxy.url("/v1/chat/completions"), chatBody(model, extra), { "x-openwebui-user-email": USER_EMAIL });
  const { text } = await readBody(response);
  await ended(response);
  return { status: response.status, text };
}

describe("the counters and histograms after a known sequence", () => {
  let before: Map<string, number>;
  let after: Map<string, number>;
  let afterText: string;
  /** Which of the pair's targets answered 500 first, and which one the retry went to. */
  let firstTried: string | undefined, retriedOn: string;
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  beforeAll(async () => {
    before = parse(await scrape());
    solo.willReply(reply.json(completion("hi", 11, 7)));
    // Whichever pair target gets the first try answers 500; the other one serves.
    const pairReply = (name: string) => () => {
      if (firstTried !== undefined) return reply.json(completion("pair", 2, 3));
      firstTried = name;
      return reply.json({ error: { message: "boom", type: "server_error" } }, { status: 500 });
    };
    p1.willReply(pairReply("p1"));
    p2.willReply(pairReply("p2"));
    failing.willReply(reply.json({ error: { message: "overloaded", type: "server_error" } }, { status: 503 }));
    backup.willReply(reply.json(completion("backup", 5, 6)));

    for (let i = 0; i < 3; i++) expect((await chat("solo")).status).toBe(200);
    expect((await chat("down")).status).toBe(502);
    expect((await chat("pair")).status).toBe(200);
    expect([p1.requests.length, p2.requests.length]).toEqual([1, 1]);
    retriedOn = firstTried === "p1" ? "p2" : "p1";
    expect((await chat("primary")).status).toBe(200);

    solo.willReply(reply.sse(STREAM));
    const stream = await chat("solo", { stream: true });
    expect(stream.status).toBe(200);
    expect(stream.text).toContain("lo");

    stall.willReply(reply.sse(STREAM, { stallAfter: 1 }));
    const stalled = await chat("stall", { stream: true });
    expect(stalled.status).toBe(200);
    expect(stalled.text).toContain('"error"');

    const unknown = await chat(UNKNOWN_ID);
    expect(unknown.status).toBe(404);
    // Requests that name no model are not model requests: they move nothing.
    const models = await fetch(proxy.url("/v1/models"), { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    await models.text();
    await ended(models);

    afterText = await scrape();
    after = parse(afterText);
  });

  test("the exposition passes promtool check metrics", async () => {
    const { code, output } = await promtool(afterText);
    expect({ code, output }).toEqual({ code: 0, output: "" });
  });

  test("promtool is really checking: it rejects a malformed and a badly named exposition", async () => {
    expect((await promtool("bad{ 1\n")).code).not.toBe(0);
    const lint = await promtool("# HELP x Things.\n# TYPE x counter\nx 1\n");
    expect(lint.code).not.toBe(0);
    expect(lint.output).toContain("_total");
  });

  test("requests_total counts each model request once, by model, serving target and status", () => {
    expect(delta('cm_proxy_requests_total{model="solo",target="solo#0",code="200"}')).toBe(4);
    expect(delta('cm_proxy_requests_total{model="down",target="none",code="502"}')).toBe(1);
    expect(delta(`cm_proxy_requests_total{model="pair",target="${retriedOn}",code="200"}`)).toBe(1);
    expect(delta('cm_proxy_requests_total{model="primary",target="backup#0",code="200"}')).toBe(1);
    expect(delta('cm_proxy_requests_total{model="unknown",target="none",code="404"}')).toBe(1);
    expect(delta('cm_proxy_requests_total{model="stall",target="stall#0",code="200"}')).toBe(1);
    const total = [...after.keys()].filter((key) => key.startsWith("cm_proxy_requests_total{")).reduce((sum, key) => sum + delta(key), 0);
    expect(total).toBe(9); // not the /models call, nor the scrapes
  });

  test("upstream errors, retries and fallbacks", () => {
    const errors = [...after.keys()].filter((key) => key.startsWith("cm_proxy_upstream_errors_total{") && delta(key) !== 0);
    expect(Object.fromEntries(errors.map((key) => [key, delta(key)]))).toEqual({
      // The refused connect is tried once more at once, on a fresh connection: a drop, then the failure.
      'cm_proxy_upstream_errors_total{model="down",target="down#0",reason="connection_dropped"}': 1,
      'cm_proxy_upstream_errors_total{model="down",target="down#0",reason="connect"}': 1,
      [`cm_proxy_upstream_errors_total{model="pair",target="${firstTried}",reason="status_500"}`]: 1,
      'cm_proxy_upstream_errors_total{model="primary",target="primary#0",reason="status_503"}': 1,
      // Its headers came (the try succeeded), then the body fell silent.
      'cm_proxy_upstream_errors_total{model="stall",target="stall#0",reason="body_timeout"}': 1,
    });
    const retries = [...after.keys()].filter((key) => key.startsWith("cm_proxy_retries_total{") && delta(key) !== 0);
    expect(Object.fromEntries(retries.map((key) => [key, delta(key)]))).toEqual({
      'cm_proxy_retries_total{model="down",target="down#0"}': 1,
      [`cm_proxy_retries_total{model="pair",target="${retriedOn}"}`]: 1,
    });
    const fallbacks = [...after.keys()].filter((key) => key.startsWith("cm_proxy_fallbacks_total{") && delta(key) !== 0);
    expect(Object.fromEntries(fallbacks.map((key) => [key, delta(key)]))).toEqual({ 'cm_proxy_fallbacks_total{model="primary",fallback="backup"}': 1 });
  });

  test("tokens_total adds what the backends reported, streamed and not, under the requested model", () => {
    expect(delta('cm_proxy_tokens_total{model="solo",type="prompt"}')).toBe(3 * 11 + 100);
    expect(delta('cm_proxy_tokens_total{model="solo",type="completion"}')).toBe(3 * 7 + 50);
    expect(delta('cm_proxy_tokens_total{model="pair",type="prompt"}')).toBe(2);
    expect(delta('cm_proxy_tokens_total{model="pair",type="completion"}')).toBe(3);
    expect(delta('cm_proxy_tokens_total{model="primary",type="prompt"}')).toBe(5);
    expect(delta('cm_proxy_tokens_total{model="primary",type="completion"}')).toBe(6);
    expect(delta('cm_proxy_tokens_total{model="down",type="prompt"}')).toBe(0);
  });

  test("histograms: one observation per request, cumulative buckets ending at the count", () => {
    const counts = (name: string, labels: string) => ({
      count: delta(`${name}_count${labels ? `{${labels}}` : ""}`),
      inf: delta(`${name}_bucket{${labels ? `${labels},` : ""}le="+Inf"}`),
    });
    const duration = "cm_proxy_request_duration_seconds";
    const ttfb = "cm_proxy_time_to_first_byte_seconds";
    expect(counts(duration, 'model="solo",target="solo#0"')).toEqual({ count: 4, inf: 4 });
    expect(counts(ttfb, 'model="solo",target="solo#0"')).toEqual({ count: 4, inf: 4 });
    expect(counts(duration, 'model="down",target="none"')).toEqual({ count: 1, inf: 1 });
    // No backend answered: no time to first byte.
    expect(counts(ttfb, 'model="down",target="none"')).toEqual({ count: 0, inf: 0 });
    expect(counts(duration, `model="pair",target="${retriedOn}"`)).toEqual({ count: 1, inf: 1 });
    expect(counts(duration, 'model="primary",target="backup#0"')).toEqual({ count: 1, inf: 1 });
    expect(counts(duration, 'model="unknown",target="none"')).toEqual({ count: 1, inf: 1 });
    expect(counts(duration, 'model="stall",target="stall#0"')).toEqual({ count: 1, inf: 1 });
    // The stalled stream lasted at least its 150 ms idle timeout.
    expect(delta('cm_proxy_request_duration_seconds_bucket{model="stall",target="stall#0",le="0.1"}')).toBe(0);
    // Overhead: every relayed answer (4 solo, pair, primary, stall), not the proxy's own 502 and 404.
    expect(counts("cm_proxy_overhead_seconds", "")).toEqual({ count: 7, inf: 7 });
    expect(delta("cm_proxy_overhead_seconds_sum")).toBeGreaterThan(0);
    // The overhead of a local proxy is well under a second; the whole of a mock's answer under 10 s.
    expect(delta('cm_proxy_overhead_seconds_bucket{le="1"}')).toBe(7);
    expect(delta('cm_proxy_request_duration_seconds_bucket{model="solo",target="solo#0",le="10"}')).toBe(4);
    expect(delta('cm_proxy_request_duration_seconds_sum{model="solo",target="solo#0"}')).toBeGreaterThan(0);

    // Every histogram's buckets are cumulative: never decreasing, ending at its count.
    const series = new Map<string, number[]>();
    for (const [key, value] of after) {
      const match = /^(\w+)_bucket\{(.*?),?le="[^"]+"\}$/.exec(key);
      if (!match) continue;
      const id = `${match[1]}{${match[2]}}`;
      series.set(id, [...(series.get(id) ?? []), value]);
    }
    expect(series.size).toBeGreaterThan(5);
    for (const [id, values] of series) {
      for (let i = 1; i < values.length; i++) expect({ id, i, ok: values[i]! >= values[i - 1]! }).toEqual({ id, i, ok: true });
      const [name, labels] = [id.slice(0, id.indexOf("{")), id.slice(id.indexOf("{") + 1, -1)];
      expect({ id, last: values.at(-1) }).toEqual({ id, last: after.get(`${name}_count${labels ? `{${labels}}` : ""}`) });
    }
  });

  test("gauges read at scrape time: nothing in flight, the retried-away target cooling, build info", () => {
    for (const model of ["solo", "down", "pair", "primary", "backup"]) expect(after.get(`cm_proxy_in_flight_requests{model="${model}"}`)).toBe(0);
    expect(after.get(`cm_proxy_target_up{model="pair",target="${firstTried}"}`)).toBe(0);
    expect(after.get(`cm_proxy_target_up{model="pair",target="${retriedOn}"}`)).toBe(1);
    expect(after.get('cm_proxy_target_up{model="solo",target="solo#0"}')).toBe(1);
    expect(after.get('cm_proxy_target_up{model="down",target="down#0"}')).toBe(1); // a lone target never cools down
    expect(after.get(`cm_proxy_build_info{version="${VERSION}"}`)).toBe(1);
    expect(after.get("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(after.get("process_start_time_seconds")).toBeLessThanOrEqual(Date.now() / 1000);
    if (process.platform === "linux") expect(after.get("process_open_fds")).toBeGreaterThan(0);
  });

  test("labels are bounded: no key, URL, user, backend model name or unknown model id in the output", () => {
    for (const secret of [...Object.values(KEYS), CLIENT_KEY]) expect(afterText).not.toContain(secret);
    // A port as a URL would carry it: its bare digits may well be part of a sample's value (a memory size).
    for (const leak of ["http:", "127.0.0.1", USER_EMAIL, UNKNOWN_ID, "backend-solo-name", `:${solo.port}`, `:${backup.port}`]) {
      expect({ leak, found: afterText.includes(leak) }).toEqual({ leak, found: false });
    }
  });
});

describe("the route", () => {
  test("/v1/metrics serves the same families; only the bare /metrics is in the OpenAPI document", async () => {
    const names = (text: string) => text.split("\n").filter((line) => line.startsWith("# TYPE "));
    expect(names(await scrape(proxy, "/v1/metrics"))).toEqual(names(await scrape()));
    const doc = await (await fetch(proxy.url("/swagger/json"))).json();
    expect(doc.paths["/metrics"]?.get?.summary).toBeString();
    expect(doc.paths["/v1/metrics"]).toBeUndefined();
  });

  test("config reloads are counted, accepted and rejected", async () => {
    const before = parse(await scrape());
    const ok = await fetch(proxy.url("/reload"), { method: "POST" });
    expect(ok.status).toBe(200);
    await ok.text();
    const file = Bun.file(proxy.configPath);
    const good = await file.text();
    await Bun.write(proxy.configPath, "{ not json");
    try {
      await expectOpenAIError(await fetch(proxy.url("/reload"), { method: "POST" }), 400, { code: "invalid_config" });
    } finally {
      await Bun.write(proxy.configPath, good);
    }
    const after = parse(await scrape());
    const moved = (result: string) =>
      after.get(`cm_proxy_config_reloads_total{result="${result}"}`)! - before.get(`cm_proxy_config_reloads_total{result="${result}"}`)!;
    expect({ ok: moved("ok"), rejected: moved("rejected") }).toEqual({ ok: 1, rejected: 1 });
  });

  test("with an admin key: 401 without it or with a wrong one (even from loopback), 200 with it", async () => {
    const keyed = await startProxy({ endpoints: { solo: { url: solo.url, apiKey: KEYS.solo } }, adminKey: KEYS.admin }, { label: "metrics keyed proxy log" });
    try {
      for (const path of ["/metrics", "/v1/metrics"]) {
        for (const authorization of [null, "Bearer ak-wrong-0123456789-metrics", `Bearer ${CLIENT_KEY}`]) {
          const response = await fetch(keyed.url(path), { headers: authorization ? { authorization } : {} });
          await expectOpenAIError(response, 401, { type: "authentication_error", code: "invalid_admin_key" });
        }
        const text = await scrape(keyed, path, { authorization: `Bearer ${KEYS.admin}` });
        expect(text).toContain("# TYPE cm_proxy_requests_total counter");
        expect(text).not.toContain(KEYS.admin);
      }
    } finally {
      await keyed.stop();
    }
  });

  const ownAddress = Object.values(networkInterfaces())
    .flat()
    .find((info) => info && info.family === "IPv4" && !info.internal)?.address;

  test.skipIf(ownAddress === undefined)(`without an admin key, a non-loopback client (${ownAddress ?? "none"}) gets 403`, async () => {
    const exposed = await startProxy({ endpoints: { solo: { url: solo.url } } }, { hostname: ownAddress!, label: "metrics non-loopback proxy log" });
    try {
      for (const path of ["/metrics", "/v1/metrics"]) {
        await expectOpenAIError(await fetch(exposed.url(path)), 403, { type: "permission_error", code: "admin_local_only" });
      }
    } finally {
      await exposed.stop();
    }
  });
});
