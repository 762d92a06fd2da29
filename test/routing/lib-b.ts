// Helpers for the routing black-box tests (cool-down, fallbacks, discovery, health, config):
// reading `/health`, waiting on what it shows, scripting mocks that record a cross-backend order.
import { afterEach, expect } from "bun:test";
import { chatBody, postJson } from "../support/http";
import { reply, startMock, type MockBackend, type RecordedRequest, type Reply } from "../support/mock-backend";
import { removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";

export interface TargetHealth {
  name: string;
  state: "up" | "cooling" | "half-open";
  inFlight: number;
  ewmaTtfbMs: number | null;
  consecutiveFailures: number;
  cooldownUntil: string | null;
}

export interface HealthBody {
  status: "ok" | "degraded";
  endpoints: number;
  models: { id: string; displayName: string; targets: TargetHealth[] }[];
}

export async function health(proxy: ProxyHandle): Promise<HealthBody> {
  const response = await fetch(proxy.url("/health"));
  expect(response.status).toBe(200);
  return response.json();
}

/** The `/health` entry of one target of one model (fails the test if it is not listed). */
export async function targetHealth(proxy: ProxyHandle, model: string, name: string): Promise<TargetHealth> {
  const body = await health(proxy);
  const entry = body.models.find((m) => m.id === model)?.targets.find((t) => t.name === name);
  if (!entry) throw new Error(`/health lists no target '${name}' of model '${model}': ${JSON.stringify(body)}`);
  return entry;
}

/** Epoch ms of a `cooldownUntil` (fails the test when it is null). */
export function untilMs(target: TargetHealth): number {
  expect(target.cooldownUntil).not.toBeNull();
  expect(target.cooldownUntil!).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return Date.parse(target.cooldownUntil!);
}

/**
 * Waits until `probe` returns something other than undefined; bounded, polling every 10 ms.
 * For states only `/health` shows (a background check, a discovery refresh landing).
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, label: string, ms = 3000): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${label}${last ? ` (last error: ${last})` : ""}`);
    await Bun.sleep(10);
  }
}

/** Waits out a cool-down whose end `/health` reported: a wait computed from the state, not a guess. */
export async function waitPast(epochMs: number): Promise<void> {
  const left = epochMs - Date.now();
  if (left > 5_000) throw new Error(`refusing to wait ${left} ms`);
  if (left >= 0) await Bun.sleep(left + 5);
}

export const chat = (proxy: ProxyHandle, model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  postJson(proxy.url("/v1/chat/completions"), chatBody(model, extra), headers);

/** What a client got back, with the routing headers. */
export async function outcome(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    model: response.headers.get("x-cm-proxy-model"),
    servedBy: response.headers.get("x-cm-proxy-served-by"),
    attempts: response.headers.get("x-cm-proxy-attempts"),
    text,
  };
}

/** A backend failure with an OpenAI-shaped body naming who failed. */
export const failure = (status: number, who: string, options: { delayMs?: number; headers?: Record<string, string> } = {}): Reply =>
  reply.json({ error: { message: `${who} failed with ${status}`, type: "server_error", param: null, code: null } }, { status, ...options });

/** A chat completion naming the backend that made it and the model name it received. */
export const completion = (who: string, request: RecordedRequest, options: { delayMs?: number } = {}): Reply => {
  let model: unknown = null;
  try {
    model = request.json().model;
  } catch {}
  return reply.json({ object: "chat.completion", model, choices: [{ index: 0, message: { role: "assistant", content: `from ${who}` } }] }, options);
};

/** Model requests only (health checks and discovery listings are `GET …/models`). */
export const modelRequests = (mock: MockBackend) => mock.requests.filter((r) => r.method !== "GET");

/**
 * A global arrival order across mocks: each scripted mock pushes its label when a request reaches
 * it, so a test can assert the order targets were tried in.
 */
export class Arrivals {
  readonly order: string[] = [];
  /** Scripts `mock` to answer with `script` and to note each non-GET arrival as `label`. */
  script(mock: MockBackend, label: string, script: (request: RecordedRequest) => Reply): void {
    mock.willReply((request) => {
      if (request.method !== "GET") this.order.push(label);
      return script(request);
    });
  }
}

/** A proxy whose config file a test rewrites and reloads (POST /reload from loopback). */
export async function reloadWith(proxy: ProxyHandle, config: unknown): Promise<void> {
  await Bun.write(proxy.configPath, JSON.stringify(config, null, 2));
  const response = await fetch(proxy.url("/reload"), { method: "POST" });
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status: 200 });
}

export { startProxy };

/**
 * The mocks and the proxy each test of a file starts, all stopped (and the temp folders removed)
 * after it: `mock(name)` starts a mock backend, `startProxy(config)` the proxy.
 */
export function perTestServers() {
  const mocks: MockBackend[] = [];
  let proxy: ProxyHandle | null = null;
  afterEach(async () => {
    await proxy?.stop();
    proxy = null;
    await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    removeTempDirs();
  });
  return {
    mock(name: string): MockBackend {
      const started = startMock(name);
      mocks.push(started);
      return started;
    },
    async startProxy(config: unknown): Promise<ProxyHandle> {
      return (proxy = await startProxy(config));
    },
  };
}
