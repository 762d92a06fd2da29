/**
 * Running the proxy as a separate process (the CLI under Bun, or the compiled binary): a clean
 * environment, stderr/stdout collected as they arrive, and waits on log lines instead of sleeps.
 */
import { join } from "node:path";
import { deferred, within, type Deferred } from "./events";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const CLI_ENTRY = join(REPO_ROOT, "src", "cli.ts");
/** The Bun running this suite. */
export const BUN = process.execPath;

/** An environment with none of the proxy's variables from the outer shell. */
export function cleanEnv(extra: Record<string, string> = {}, path = process.env.PATH ?? "/usr/bin:/bin"): Record<string, string> {
  return { PATH: path, HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...extra };
}

/** Collects a stream's text as it arrives; `waitFor` resolves once a pattern has appeared. */
class TextCollector {
  text = "";
  private waiters: { pattern: RegExp; done: Deferred<RegExpMatchArray> }[] = [];
  readonly finished: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.finished = this.collect(stream);
  }

  private async collect(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.text += decoder.decode(chunk, { stream: true });
      this.waiters = this.waiters.filter(({ pattern, done }) => {
        const match = this.text.match(pattern);
        if (match) done.resolve(match);
        return !match;
      });
    }
  }

  waitFor(pattern: RegExp, ms: number, label: string): Promise<RegExpMatchArray> {
    const match = this.text.match(pattern);
    if (match) return Promise.resolve(match);
    const done = deferred<RegExpMatchArray>();
    this.waiters.push({ pattern, done });
    return within(done.promise, ms, `${label}: ${pattern} (output so far: ${JSON.stringify(this.text)})`);
  }
}

export interface RunningProcess {
  readonly proc: ReturnType<typeof Bun.spawn>;
  readonly stdout: TextCollector;
  readonly stderr: TextCollector;
  /** Waits for the "listening on host:port" log line and returns the port. */
  listening(ms?: number): Promise<number>;
  /** Sends SIGTERM (then SIGKILL if it does not exit in time) and returns the exit code. */
  stop(ms?: number): Promise<number>;
}

export function spawnProcess(cmd: string[], options: { cwd: string; env: Record<string, string> }): RunningProcess {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const stdout = new TextCollector(proc.stdout as ReadableStream<Uint8Array>);
  const stderr = new TextCollector(proc.stderr as ReadableStream<Uint8Array>);
  const exitedEarly = proc.exited.then((code) => {
    throw new Error(`process exited with ${code} before listening; stderr: ${stderr.text}`);
  });
  exitedEarly.catch(() => {});
  return {
    proc,
    stdout,
    stderr,
    async listening(ms = 15_000) {
      const match = await Promise.race([stderr.waitFor(/listening on [^\s]+:(\d+)/, ms, "the listening log line"), exitedEarly]);
      return Number(match[1]);
    },
    async stop(ms = 5000) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      try {
        return await within(proc.exited, ms, "the process exiting after SIGTERM");
      } catch (error) {
        proc.kill("SIGKILL");
        await proc.exited;
        throw error;
      }
    },
  };
}

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command that is expected to exit on its own, within `ms`. */
export async function runToExit(cmd: string[], options: { cwd: string; env: Record<string, string> }, ms = 15_000): Promise<Finished> {
  const running = spawnProcess(cmd, options);
  try {
    const code = await within(running.proc.exited, ms, `${cmd.join(" ")} exiting`);
    await Promise.all([running.stdout.finished, running.stderr.finished]);
    return { code, stdout: running.stdout.text, stderr: running.stderr.text };
  } finally {
    if (running.proc.exitCode === null) running.proc.kill("SIGKILL");
  }
}
