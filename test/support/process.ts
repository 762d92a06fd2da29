// Running the proxy as a separate process (the CLI under Bun, or the compiled binary): a clean
// environment, output collected line by line as it arrives (and recorded in the transcript), and
// waits on log lines instead of sleeps.
import { mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Subprocess } from "bun";
import { deferred, TimeoutError, within, type Deferred } from "./events";
import { recordText } from "./transcript";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const CLI_ENTRY = join(REPO_ROOT, "src", "cli.ts");
/** The Bun running this suite. */
export const BUN = process.execPath;

/** An environment with none of the proxy's variables from the outer shell. */
export function cleanEnv(extra: Record<string, string> = {}, path = process.env.PATH ?? "/usr/bin:/bin"): Record<string, string> {
  return { PATH: path, HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...extra };
}

/**
 * `path` (a PATH value) without the executables `names`, wherever they live: each directory that
 * holds one is replaced by a fresh directory (under `scratch`) of symlinks to everything else in it.
 */
export function pathWithout(names: readonly string[], path: string, scratch = tmpdir()): string {
  return path
    .split(":")
    .map((dir) => {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return dir; // a PATH entry that does not exist holds nothing
      }
      if (!entries.some((entry) => names.includes(entry))) return dir;
      const copy = mkdtempSync(join(scratch, "cm-owp-path-"));
      for (const entry of entries) if (!names.includes(entry)) symlinkSync(join(dir, entry), join(copy, entry));
      return copy;
    })
    .join(":");
}

/** Collects a stream as it arrives, by lines; `line` resolves once a line matches. */
class LineCollector {
  readonly lines: string[] = [];
  private partial = "";
  private waiters: { match: (line: string) => boolean; done: Deferred<string> }[] = [];
  readonly finished: Promise<void>;

  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly label: string,
  ) {
    this.finished = this.collect(stream);
  }

  get text(): string {
    return this.lines.map((line) => `${line}\n`).join("") + this.partial;
  }

  private async collect(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.partial += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = this.partial.indexOf("\n")) !== -1) {
        this.push(this.partial.slice(0, at));
        this.partial = this.partial.slice(at + 1);
      }
    }
    if (this.partial) this.push(this.partial);
    this.partial = "";
  }

  private push(line: string) {
    this.lines.push(line);
    recordText(this.label, line);
    this.waiters = this.waiters.filter(({ match, done }) => {
      if (!match(line)) return true;
      done.resolve(line);
      return false;
    });
  }

  /** The first line, already seen or still to come, that matches (unbounded: the caller bounds it). */
  line(match: (line: string) => boolean): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const done = deferred<string>();
    this.waiters.push({ match, done });
    return done.promise;
  }
}

export interface RunningProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly pid: number;
  /** Everything printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** The first stderr line (already printed or still to come) that matches; fails on exit or after `ms`. */
  line(match: (line: string) => boolean, ms: number, label: string): Promise<string>;
  /** The same on stdout (the access log). */
  stdoutLine(match: (line: string) => boolean, ms: number, label: string): Promise<string>;
  /** Waits for the "listening on host:port" log line and returns the port. */
  listening(ms?: number): Promise<number>;
  /**
   * The port, once the proxy has answered /health: a test that signals the process must know its
   * handlers are installed, which the "listening" line alone does not promise.
   */
  ready(ms?: number): Promise<number>;
  /** Bounded wait for the exit code, and for all the process printed. */
  exitCode(ms: number): Promise<number>;
  /** Sends `signal` unless the process has already exited. */
  kill(signal?: NodeJS.Signals | number): void;
  /** Sends SIGTERM (then SIGKILL if it does not exit in time) and returns the exit code. */
  stop(ms?: number): Promise<number>;
}

/** `stdoutReader: "gone"`: nothing reads stdout (its pipe's reading end is closed at once), as when a log shipper went away. */
export function spawnProcess(cmd: string[], options: { cwd: string; env: Record<string, string>; stdoutReader?: "gone" }): RunningProcess {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const name = basename(cmd[0] === BUN && cmd[1] ? cmd[1] : cmd[0]!);
  if (options.stdoutReader === "gone") void proc.stdout.cancel();
  const stdout = new LineCollector(options.stdoutReader === "gone" ? new Response("").body! : proc.stdout, `${name} stdout`);
  const stderr = new LineCollector(proc.stderr, `${name} stderr`);
  const kill = (signal: NodeJS.Signals | number = "SIGKILL") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
  };
  // Exited once its output is read too, so what it printed last is there to check.
  const exited = Promise.all([proc.exited, stdout.finished, stderr.finished]).then(([code]) => code);
  const lineOf = (collector: LineCollector, stream: string) => async (match: (line: string) => boolean, ms: number, label: string) => {
    const exitedFirst = exited.then((code) => Promise.reject(new Error(`exited ${code} before: ${label}\n${stream}: ${collector.text}`)));
    try {
      return await within(Promise.race([collector.line(match), exitedFirst]), ms, label);
    } catch (error) {
      if (error instanceof TimeoutError) error.message += `\n${stream} so far: ${collector.text}`;
      throw error;
    }
  };
  const line = lineOf(stderr, "stderr");
  const listening = async (ms = 15_000) => {
    const pattern = / listening on \S+:(\d+) /;
    return Number(pattern.exec(await line((text) => pattern.test(text), ms, "the 'listening on' log line"))![1]);
  };
  return {
    proc,
    pid: proc.pid,
    get stdout() {
      return stdout.text;
    },
    get stderr() {
      return stderr.text;
    },
    line,
    stdoutLine: lineOf(stdout, "stdout"),
    listening,
    async ready(ms = 15_000) {
      const port = await listening(ms);
      const response = await within(fetch(`http://127.0.0.1:${port}/health`), ms, "the spawned proxy answering /health");
      await response.text();
      if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
      return port;
    },
    exitCode: (ms) => within(exited, ms, `process ${proc.pid} exiting`),
    kill,
    async stop(ms = 5000) {
      kill("SIGTERM");
      try {
        return await within(exited, ms, "the process exiting after SIGTERM");
      } catch (error) {
        kill("SIGKILL");
        await proc.exited;
        throw error;
      }
    },
  };
}

/** The CLI (`bun src/cli.ts`) with `args`, from the repository root unless `cwd` says otherwise. */
export function spawnCli(args: string[], env: Record<string, string> = {}, cwd = REPO_ROOT): RunningProcess {
  return spawnProcess([BUN, CLI_ENTRY, ...args], { cwd, env: cleanEnv(env) });
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
    const code = await running.exitCode(ms);
    return { code, stdout: running.stdout, stderr: running.stderr };
  } finally {
    running.kill();
  }
}
