// Starting the proxy under test in-process, on 127.0.0.1 port 0, from a config file written to a
// fresh temp directory, with a logger whose lines the test can read and wait for.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/server/start";
import { CapturingLogger } from "./logger";
import { startMock, type MockBackend } from "./mock-backend";

/** The two backends' keys: long enough to be masked as first 5 + "..." + last 5. */
export const ALPHA_KEY = "sk-alpha-0123456789-SECRET-alpha";
export const BRAVO_KEY = "sk-bravo-9876543210-SECRET-bravo";
/** What a client sends as its own key; it must never reach a backend. */
export const CLIENT_KEY = "client-key-never-forward-me";

const tempDirs: string[] = [];

/** A fresh directory under the system temp dir, removed by `removeTempDirs`. */
export function makeTempDir(label = "proxy-test"): string {
  const dir = mkdtempSync(join(tmpdir(), `cm-owp-${label}-`));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a config file in place (truncate + write) or atomically (temp file + rename), as editors do. */
export function writeConfig(path: string, config: unknown, how: "in-place" | "atomic" = "in-place"): string {
  const text = typeof config === "string" ? config : JSON.stringify(config, null, 2);
  if (how === "in-place") {
    writeFileSync(path, text);
  } else {
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, path);
  }
  return path;
}

export interface EndpointOptions {
  displayName?: string;
  apiKey?: string;
  actualModelName?: string;
  url?: string;
  [extra: string]: unknown;
}

/** One `endpoints.<id>` entry pointing at `mock` (or at `options.url`). */
export function endpointFor(mock: MockBackend | null, options: EndpointOptions): Record<string, unknown> {
  const { url, ...rest } = options;
  return { url: url ?? mock!.url, ...rest };
}

export interface ProxyHandle {
  readonly server: RunningServer;
  readonly log: CapturingLogger;
  readonly configPath: string;
  readonly dir: string;
  /** The proxy's URL for `path` (which starts with "/"). */
  url(path: string): string;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Reload when the file changes (default off: only an explicit POST /reload changes the config). */
  watchConfig?: boolean;
  /** The address to bind (default 127.0.0.1). */
  hostname?: string;
  /** Names this proxy's log lines in the transcript. */
  label?: string;
}

/** Writes `config` to `<fresh dir>/config.json` and starts the proxy on it, on port 0. */
export async function startProxy(config: unknown, { watchConfig = false, hostname = "127.0.0.1", label }: ProxyOptions = {}): Promise<ProxyHandle> {
  const dir = makeTempDir();
  const configPath = writeConfig(join(dir, "config.json"), config);
  const log = new CapturingLogger(label);
  const server = await startServer({ configPath, port: 0, hostname, log, watchConfig, accessLogWrite: log.access });
  return {
    server,
    log,
    configPath,
    dir,
    url: (path) => server.url + path,
    stop: () => server.stop(),
  };
}

/** The standard two-backend setup most test files share. */
export interface Harness {
  readonly proxy: ProxyHandle;
  /** Backend A, key ALPHA_KEY: models "gpt", "embed", "slow". */
  readonly alpha: MockBackend;
  /** Backend B, key BRAVO_KEY: models "llama", "org/model-x", "whisper". */
  readonly bravo: MockBackend;
  url(path: string): string;
  /** Clears both mocks' records and scripts (call in beforeEach). */
  reset(): void;
  stop(): Promise<void>;
}

/** Timeouts of the "slow" model, small so timeout tests are fast. */
export const SLOW_TIMEOUTS = { firstByteMs: 300, idleMs: 300 } as const;

export function standardConfig(alpha: MockBackend, bravo: MockBackend, top: Record<string, unknown> = {}, extraEndpoints: Record<string, unknown> = {}) {
  return {
    endpoints: {
      gpt: endpointFor(alpha, { displayName: "GPT-4o (Alpha)", apiKey: ALPHA_KEY, actualModelName: "backend-gpt-4o" }),
      llama: endpointFor(bravo, { displayName: "Llama 3.1 (Bravo)", apiKey: BRAVO_KEY, actualModelName: "meta-llama/Llama-3.1-8B-Instruct" }),
      "org/model-x": endpointFor(bravo, { displayName: "Model X (slash id)", apiKey: BRAVO_KEY, actualModelName: "model-x-actual" }),
      embed: endpointFor(alpha, { displayName: "Embeddings (Alpha)", apiKey: ALPHA_KEY, actualModelName: "text-embedding-3-small" }),
      whisper: endpointFor(bravo, { displayName: "Whisper (Bravo)", apiKey: BRAVO_KEY, actualModelName: "whisper-large-v3" }),
      slow: endpointFor(alpha, { displayName: "Slow (Alpha)", apiKey: ALPHA_KEY, actualModelName: "slow-actual", timeouts: SLOW_TIMEOUTS }),
      ...extraEndpoints,
    },
    maxBodyBytes: 64 * 1024,
    ...top,
  };
}

export const STANDARD_MODEL_IDS = ["gpt", "llama", "org/model-x", "embed", "whisper", "slow"];

/**
 * Two mock backends and a proxy in front of them. `top` adds or overrides top-level config fields;
 * `extraEndpoints` adds models (after the standard ones), or builds them from the two mocks.
 */
export async function startHarness(
  top: Record<string, unknown> = {},
  extraEndpoints: Record<string, unknown> | ((alpha: MockBackend, bravo: MockBackend) => Record<string, unknown>) = {},
): Promise<Harness> {
  const alpha = startMock("alpha");
  const bravo = startMock("bravo");
  const extra = typeof extraEndpoints === "function" ? extraEndpoints(alpha, bravo) : extraEndpoints;
  const proxy = await startProxy(standardConfig(alpha, bravo, top, extra));
  return {
    proxy,
    alpha,
    bravo,
    url: proxy.url,
    reset() {
      alpha.reset();
      bravo.reset();
      proxy.log.lines.length = 0;
    },
    async stop() {
      await proxy.stop();
      await Promise.all([alpha.stop(), bravo.stop()]);
      removeTempDirs();
    },
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
