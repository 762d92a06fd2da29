// Zero-loss configuration changes (issue 4). While workers send a steady mix of streamed and
// non-streamed chat requests, the config file is rewritten 100 times: valid and invalid versions
// alternate, models come and go, some writes are atomic (temp file + rename) and some in place,
// some are applied through POST /reload and others left to the file watcher.
//
// Every valid version v maps the model "stable" to a (backend, actualModelName, apiKey) triple
// that changes together (`stable-v<v>`, alpha or bravo, a key of its own), so each upstream
// request proves which single version it ran on. Invalid versions carry the would-be triple of
// an odd version: a request that ever reaches a backend with it saw a config that was rejected.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { within } from "../support/events";
import { reply, startMock, type MockBackend, type RecordedRequest } from "../support/mock-backend";
import { removeTempDirs, startProxy, writeConfig, type ProxyHandle } from "../support/proxy";
import { Rng } from "./lib/rng";
import { expectNoSecretLeaks, registerSecret, rfetch } from "../support/transcript";

const VERSIONS = 100;
const WORKERS = 4;
const SEED = 0x5eed_0004;

const ADMIN = registerSecret("ak-rl-admin-1f2e3d4c5b6a-RELOAD-admin", "admin key (reload)");
const CLIENT = registerSecret("ck-rl-client-a1b2c3d4e5f6-RELOAD-stable", "client key present in every version");
const PINNED_KEY = registerSecret("sk-rl-pinned-0f1e2d3c4b5a-RELOAD-pinned", "backend key of the pinned model");
const versionKey = (v: number) => `sk-rl-v${v}-9d8c7b6a5f4e-RELOAD-key-v${v}`;
const versionClient = (v: number) => `ck-rl-v${v}-5e4d3c2b1a09-RELOAD-cli-v${v}`;
for (let v = 0; v <= VERSIONS + 2; v++) {
  registerSecret(versionKey(v), `backend key of version ${v}`);
  registerSecret(versionClient(v), `client key of version ${v}`);
}

let alpha: MockBackend;
let bravo: MockBackend;
let proxy: ProxyHandle;

const isValid = (v: number) => v % 2 === 0;
const stableBackend = (v: number) => (v % 4 === 0 ? "alpha" : "bravo");
const extraBackend = (v: number) => (v % 4 === 0 ? "bravo" : "alpha");
const mockNamed = (name: string) => (name === "alpha" ? alpha : bravo);

/** Version v of the config, valid or not (invalid ones still carry their own triple for "stable"). */
function configVersion(v: number): { text: string; marker: string | null } {
  const file: Record<string, any> = {
    endpoints: {
      stable: { url: mockNamed(stableBackend(v)).url, apiKey: versionKey(v), actualModelName: `stable-v${v}`, displayName: `Stable v${v}` },
      pinned: { url: alpha.url, apiKey: PINNED_KEY, actualModelName: "pinned-actual" },
      [`extra-v${v}`]: { url: mockNamed(extraBackend(v)).url, apiKey: versionKey(v), actualModelName: `extra-v${v}` },
    },
    clientKeys: [
      { key: CLIENT, name: "stable" },
      { key: versionClient(v), name: `v${v}`, models: ["pinned"] },
    ],
    adminKey: ADMIN,
    timeouts: { connectMs: 2000, firstByteMs: 10_000, idleMs: 10_000 },
    note: `version ${v}`,
  };
  if (isValid(v)) return { text: JSON.stringify(file, null, 2), marker: null };
  switch (((v - 1) / 2) % 5) {
    case 0:
      return { text: JSON.stringify(file, null, 2).slice(0, 300 + v), marker: "not valid JSON" };
    case 1:
      file.endpoints[`broken-v${v}`] = { url: "ftp://backend.invalid" };
      return { text: JSON.stringify(file), marker: `endpoints.broken-v${v}.url` };
    case 2:
      file.endpoints[`broken-v${v}`] = { url: alpha.url, timeouts: { firstByteMs: "soon" } };
      return { text: JSON.stringify(file), marker: `endpoints.broken-v${v}.timeouts.firstByteMs` };
    case 3:
      file.clientKeys.push({ key: `ck-rl-ghost-${v}-000000000000`, models: [`ghost-v${v}`] });
      return { text: JSON.stringify(file), marker: `unknown model 'ghost-v${v}'` };
    default:
      file.endpoints.stable.apiKey = `\${HARDENING_RELOAD_MISSING_V${v}}`;
      return { text: JSON.stringify(file), marker: `HARDENING_RELOAD_MISSING_V${v}` };
  }
}

const streamChunks = (model: string, backend: string) => [
  ...Array.from(
    { length: 5 },
    (_, j) =>
      `data: {"id":"chatcmpl-${backend}","object":"chat.completion.chunk","model":"${model}","backend":"${backend}","choices":[{"index":0,"delta":{"content":"t${j}"}}]}\n\n`,
  ),
  "data: [DONE]\n\n",
];

function backendScript(name: string) {
  return (request: RecordedRequest) => {
    const body = request.json();
    if (body.stream) return reply.sse(streamChunks(body.model, name), { delayMs: body.messages[0].content === "slow" ? 50 : 3 });
    return reply.json({ id: `chatcmpl-${name}`, object: "chat.completion", model: body.model, backend: name, choices: [] });
  };
}

beforeAll(async () => {
  alpha = startMock("alpha");
  bravo = startMock("bravo");
  alpha.willReply(backendScript("alpha"));
  bravo.willReply(backendScript("bravo"));
  proxy = await startProxy(configVersion(0).text, { watchConfig: true, label: "reload proxy log" });
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([alpha?.stop(), bravo?.stop()]);
  removeTempDirs();
});

interface Outcome {
  model: string;
  stream: boolean;
  status: number;
  /** The version the answer came from (stable/extra), or -1. */
  version: number;
  problem: string | null;
}

/** Checks one answer: the (model, backend) pair it names must belong to one valid version. */
function judge(model: string, stream: boolean, status: number, text: string): Outcome {
  const outcome: Outcome = { model, stream, status, version: -1, problem: null };
  const fail = (problem: string) => ((outcome.problem = `${model}${stream ? " (stream)" : ""}: ${problem}`), outcome);
  const transient = model.startsWith("extra-");
  if (status === 404 && transient) return JSON.parse(text).error?.code === "model_not_found" ? outcome : fail(`bad 404 body ${text}`);
  if (status !== 200) return fail(`status ${status}: ${text.slice(0, 300)}`);
  let served: { model: string; backend: string };
  try {
    served = stream ? JSON.parse(text.slice(6, text.indexOf("\n\n"))) : JSON.parse(text);
  } catch {
    return fail(`unparsable answer ${text.slice(0, 300)}`);
  }
  if (stream && text !== streamChunks(served.model, served.backend).join("")) return fail(`stream not byte-exact: ${text.slice(0, 300)}`);
  if (model === "pinned") return served.model === "pinned-actual" && served.backend === "alpha" ? outcome : fail(`pinned served as ${JSON.stringify(served)}`);
  const match = /^(stable|extra)-v(\d+)$/.exec(served.model);
  if (!match || `${match[1]}` !== model.split("-")[0]) return fail(`served as ${JSON.stringify(served)}`);
  const v = Number(match[2]);
  outcome.version = v;
  if (!isValid(v)) return fail(`served by invalid version ${v}`);
  const expectedBackend = match[1] === "stable" ? stableBackend(v) : extraBackend(v);
  if (served.backend !== expectedBackend) return fail(`version ${v} served by ${served.backend}, expected ${expectedBackend}`);
  if (transient && model !== served.model) return fail(`asked for ${model}, got ${served.model}`);
  return outcome;
}

test(`${VERSIONS} config rewrites under load: zero failed requests, no half-applied config, invalid versions logged and skipped`, async () => {
  const rng = new Rng(SEED);
  const outcomes: Outcome[] = [];
  let stopped = false;
  let latestValid = 0;

  async function worker(id: number) {
    const own = new Rng(SEED + id);
    for (let n = 0; n < 50_000 && !stopped; n++) {
      const roll = own.next();
      const model = roll < 0.7 ? "stable" : roll < 0.85 ? "pinned" : `extra-v${Math.max(0, latestValid - own.int(0, 2) * 2)}`;
      const stream = own.chance(0.5);
      const response = await rfetch(proxy.url(own.chance(0.5) ? "/v1/chat/completions" : "/chat/completions"), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT}` },
        body: JSON.stringify({ model, stream, messages: [{ role: "user", content: `w${id} n${n}` }] }),
        signal: AbortSignal.timeout(10_000),
      });
      outcomes.push(judge(model, stream, response.status, await response.text()));
    }
  }
  const workers = Array.from({ length: WORKERS }, (_, id) => worker(id));
  const until = (test: () => boolean, label: string) => proxy.log.until(test, 5000, label);
  const servingStable = () => proxy.server.configs.current.models.get("stable")?.targets[0]?.actualModelName;

  const modes: string[] = [];
  for (let v = 1; v <= VERSIONS; v++) {
    const { text, marker } = configVersion(v);
    const atomic = rng.chance(0.5);
    // Truncated JSON gives no per-version marker in the log, so it is always sent through POST /reload.
    const via = marker === "not valid JSON" || rng.chance(0.6) ? "POST /reload" : "file changed";
    modes.push(`${v}:${atomic ? "atomic" : "in-place"}:${via}`);
    const logFrom = proxy.log.lines.length;
    writeConfig(proxy.configPath, text, atomic ? "atomic" : "in-place");

    if (via === "POST /reload") {
      const response = await rfetch(proxy.url(rng.chance(0.5) ? "/reload" : "/v1/reload"), {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      const body = await response.json();
      if (isValid(v)) {
        expect({ v, status: response.status }).toEqual({ v, status: 200 });
        expect(body.models.map((m: { id: string }) => m.id)).toEqual(["stable", "pinned", `extra-v${v}`]);
      } else {
        expect({ v, status: response.status, code: body.error?.code }).toEqual({ v, status: 400, code: "invalid_config" });
        expect(body.error.message).toContain(marker!);
      }
    }
    if (isValid(v)) {
      await until(() => servingStable() === `stable-v${v}`, `version ${v} applied (${via})`);
      latestValid = v;
    } else {
      await proxy.log.line(
        (line) => line.includes(`(${via}) rejected`) && line.includes(marker!),
        5000,
        `version ${v} rejected and logged with '${marker}' (${via})`,
        logFrom,
      );
      expect({ v, serving: servingStable() }).toEqual({ v, serving: `stable-v${v - 1}` });
    }
  }

  // The final version is valid: /health shows it once the last reload is through.
  type Health = { models: { id: string; displayName: string; targets: { inFlight: number }[] }[] };
  const health = async () => (await (await rfetch(proxy.url("/health"))).json()) as Health;
  await until(() => servingStable() === `stable-v${VERSIONS}`, "the final version applied");
  expect((await health()).models.map(({ id, displayName }) => ({ id, displayName }))).toEqual([
    { id: "stable", displayName: `Stable v${VERSIONS}` },
    { id: "pinned", displayName: "pinned" },
    { id: `extra-v${VERSIONS}`, displayName: `extra-v${VERSIONS}` },
  ]);

  stopped = true;
  await within(Promise.all(workers), 15_000, "the load workers finishing");
  // Every request has ended, across all the reloads: no target counts one still in flight.
  expect((await health()).models.flatMap((model) => model.targets.map((target) => target.inFlight))).toEqual([0, 0, 0]);

  // 1. Zero failed requests for the models present in every version; transient ones are 200 or 404.
  const problems = outcomes.filter((o) => o.problem !== null).map((o) => o.problem);
  expect(problems).toEqual([]);
  const stable = outcomes.filter((o) => o.model === "stable");
  expect(stable.length).toBeGreaterThan(200);
  expect(stable.filter((o) => o.stream).length).toBeGreaterThan(50);
  // The load really ran across the reloads: answers came from many versions.
  const versionsSeen = new Set(stable.map((o) => o.version));
  expect(versionsSeen.size).toBeGreaterThanOrEqual(10);

  // 2. Every upstream request carries a (backend, model name, key) triple of one valid version.
  const halfApplied: string[] = [];
  for (const [name, mock] of [
    ["alpha", alpha],
    ["bravo", bravo],
  ] as const) {
    for (const request of mock.requests) {
      const model = request.json().model as string;
      const key = request.headers.get("authorization");
      if (!request.pathname.endsWith("/v1/chat/completions")) halfApplied.push(`${name} got path ${request.path}`);
      if (model === "pinned-actual") {
        if (name !== "alpha" || key !== `Bearer ${PINNED_KEY}`) halfApplied.push(`pinned via ${name} with ${key?.slice(0, 20)}`);
        continue;
      }
      const match = /^(stable|extra)-v(\d+)$/.exec(model);
      const v = Number(match?.[2]);
      const backend = match?.[1] === "stable" ? stableBackend(v) : extraBackend(v);
      if (!match || !isValid(v) || backend !== name || key !== `Bearer ${versionKey(v)}`) {
        halfApplied.push(`${name} got model ${model} with key ${key === `Bearer ${versionKey(v)}` ? "of its version" : "of another version"}`);
      }
    }
  }
  expect(halfApplied).toEqual([]);
  expect(alpha.requests.length + bravo.requests.length).toBe(outcomes.filter((o) => o.status === 200).length);

  // 3. Both trigger paths and both write styles were exercised.
  for (const part of ["atomic", "in-place", "POST /reload", "file changed"]) expect(modes.some((m) => m.includes(part))).toBe(true);
  console.log(
    `reload soak: ${outcomes.length} requests (${stable.length} stable, ${stable.filter((o) => o.stream).length} streamed) across ${VERSIONS} rewrites; answers from ${versionsSeen.size} versions`,
  );
}, 90_000);

test("a stream that started on one version finishes on it, byte-exact, while new requests get the next", async () => {
  const chat = (stream: boolean, content: string) =>
    rfetch(proxy.url("/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT}` },
      body: JSON.stringify({ model: "stable", stream, messages: [{ role: "user", content }] }),
    });
  const before = VERSIONS; // the running version after the test above (or its own start-up)
  if (proxy.server.configs.current.models.get("stable")?.targets[0]?.actualModelName !== `stable-v${before}`) {
    writeConfig(proxy.configPath, configVersion(before).text, "atomic");
    expect((await rfetch(proxy.url("/reload"), { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
  }
  const next = before + 2;
  expect(stableBackend(next)).not.toBe(stableBackend(before));

  const slow = await chat(true, "slow");
  const reader = slow.body!.getReader();
  const first = await within(reader.read(), 5000, "the slow stream's first chunk");
  writeConfig(proxy.configPath, configVersion(next).text, "atomic");
  const reload = await rfetch(proxy.url("/reload"), { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
  expect(reload.status).toBe(200);
  await reload.text();

  const fresh = await (await chat(false, "fresh")).json();
  expect({ model: fresh.model, backend: fresh.backend }).toEqual({ model: `stable-v${next}`, backend: stableBackend(next) });

  const decoder = new TextDecoder();
  let text = decoder.decode(first.value);
  for (let i = 0; i < 100; i++) {
    const { done, value } = await within(reader.read(), 5000, "the slow stream continuing");
    if (done) break;
    text += decoder.decode(value);
  }
  expect(text).toBe(streamChunks(`stable-v${before}`, stableBackend(before)).join(""));
});

test("no configured secret appears in any response or log line recorded so far", () => {
  expectNoSecretLeaks(100);
});
