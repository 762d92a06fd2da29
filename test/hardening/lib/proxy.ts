/** Starting the proxy for hardening tests: in-process (with a WatchedLogger) or as the real CLI. */
import { join, resolve } from "node:path";
import { renameSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { startServer, type RunningServer } from "../../../src/index";
import { makeTempDir } from "../../support/proxy";
import { deferred, within, type Deferred } from "../../support/events";
import { WatchedLogger } from "./logger";
import { recordText } from "./transcript";

export const REPO = resolve(import.meta.dir, "../../..");

export interface InProcessProxy {
  readonly server: RunningServer;
  readonly log: WatchedLogger;
  readonly configPath: string;
  url(path: string): string;
  stop(): Promise<void>;
}

export async function startInProcess(
  config: unknown,
  options: { watchConfig?: boolean; hostname?: string; label?: string } = {},
): Promise<InProcessProxy> {
  const dir = makeTempDir("hardening");
  const configPath = join(dir, "config.json");
  writeConfigFile(configPath, config, "in-place");
  const log = new WatchedLogger(options.label ?? "proxy log");
  const server = await startServer({
    configPath,
    port: 0,
    hostname: options.hostname ?? "127.0.0.1",
    log,
    watchConfig: options.watchConfig ?? false,
  });
  return { server, log, configPath, url: (path) => server.url + path, stop: () => server.stop() };
}

/** Writes a config file in place (truncate + write) or atomically (temp file + rename). */
export function writeConfigFile(path: string, config: unknown, how: "in-place" | "atomic"): void {
  const text = typeof config === "string" ? config : JSON.stringify(config, null, 2);
  if (how === "in-place") return writeFileSync(path, text);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

/** The real CLI (`bun src/cli.ts`) in a child process; its stderr is kept line by line. */
export class CliProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number>;
  private waiters: { match: (line: string) => boolean; done: Deferred<string> }[] = [];
  private constructor(readonly child: Subprocess<"ignore", "pipe", "pipe">) {
    this.exited = child.exited;
    void this.pump(child.stderr as ReadableStream<Uint8Array>);
    void new Response(child.stdout as ReadableStream<Uint8Array>).text().then((text) => recordText("cli stdout", text));
  }

  static spawn(args: string[], env: Record<string, string | undefined> = {}, command?: string[]): CliProcess {
    const child = Bun.spawn(command ?? [process.execPath, join(REPO, "src/cli.ts"), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    return new CliProcess(child);
  }

  private async pump(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = pending.indexOf("\n")) !== -1) {
        this.push(pending.slice(0, at));
        pending = pending.slice(at + 1);
      }
    }
    if (pending) this.push(pending);
  }

  private push(line: string) {
    this.lines.push(line);
    recordText("cli stderr", line);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(line)) return true;
      waiter.done.resolve(line);
      return false;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  get stderr(): string {
    return this.lines.join("\n");
  }

  /** The first stderr line (already seen or still to come) that matches. */
  line(match: (line: string) => boolean, ms: number, label: string): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const done = deferred<string>();
    this.waiters.push({ match, done });
    return within(Promise.race([done.promise, this.exited.then((code) => Promise.reject(new Error(`exited ${code} before: ${label}\n${this.stderr}`)))]), ms, label);
  }

  /** Waits for "listening on host:PORT" and returns the port. */
  async port(ms = 15_000): Promise<number> {
    const line = await this.line((l) => / listening on /.test(l), ms, "the proxy's 'listening on' line");
    const match = / listening on (\S+):(\d+) /.exec(line);
    if (!match) throw new Error(`no port in: ${line}`);
    return Number(match[2]);
  }

  /**
   * The port, once the proxy has answered a request: the "listening" line is logged before the
   * CLI installs its signal handlers, so a signal sent on the line alone may find none.
   */
  async ready(ms = 15_000): Promise<number> {
    const port = await this.port(ms);
    const response = await within(fetch(`http://127.0.0.1:${port}/health`), ms, "the spawned proxy answering /health");
    await response.text();
    if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
    return port;
  }

  /** Bounded wait for the exit code. */
  exitCode(ms: number): Promise<number> {
    return within(this.exited, ms, `process ${this.pid} exiting`);
  }

  kill(signal: NodeJS.Signals | number = "SIGKILL"): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}
