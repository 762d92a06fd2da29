// Several in-process proxy instances on one config (each with its own file and port) sharing one
// Redis through `state.redis`: a fleet as a load balancer would see it.
import { chatBody, postJson } from "../support/http";
import { startProxy, type ProxyHandle } from "../support/proxy";

export interface Fleet {
  readonly instances: readonly ProxyHandle[];
  stop(): Promise<void>;
}

export async function startFleet(count: number, config: Record<string, unknown>): Promise<Fleet> {
  const instances: ProxyHandle[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startProxy(config, { label: `instance ${String.fromCharCode(65 + i)}` }));
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw error;
  }
  return {
    instances,
    stop: async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
    },
  };
}

/** A chat request with a client key (and optional extra headers); the response is returned unread. */
export const chat = (proxy: ProxyHandle, key: string, model = "gpt", headers: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
  postJson(proxy.url("/v1/chat/completions"), chatBody(model, body), { authorization: `Bearer ${key}`, ...headers });

/** One request's end as a test compares it: status, how long it took, Retry-After, body read. */
export interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly retryAfter: string | null;
  readonly body: string;
  readonly headers: Headers;
}

export async function answer(send: () => Promise<Response>): Promise<Answer> {
  const started = performance.now();
  const response = await send();
  const body = await response.text();
  return { status: response.status, ms: performance.now() - started, retryAfter: response.headers.get("retry-after"), body, headers: response.headers };
}

/** /health of one instance, parsed (it always answers 200). */
export async function health(proxy: ProxyHandle): Promise<any> {
  const response = await fetch(proxy.url("/health"));
  if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
  return response.json();
}

/**
 * Polls `check` every 25 ms until it holds, failing after `ms`: for state that changes through
 * Redis (another instance's publish, a reconnection) no event reaches the test.
 */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, ms: number, label: string): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${label}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}
