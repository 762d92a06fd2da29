// The Logger in-process proxies get in tests: it keeps every line for the test to read or wait for
// (an event, never a sleep) and records it in the transcript the secret-leak check scans.
import type { Logger } from "../../src/lib/log";
import { deferred, within, type Deferred } from "./events";
import { recordText } from "./transcript";

export class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  /** The proxy's access-log lines (what it writes to stdout), one per ended request. */
  readonly accessLines: string[] = [];
  private waiters: { test: () => boolean; done: Deferred<void> }[] = [];

  constructor(private readonly label = "proxy log") {}

  private push(level: string, message: string): void {
    const line = `${level} ${message}`;
    this.lines.push(line);
    recordText(this.label, line);
    this.wake();
  }

  /** Where an in-process proxy's access log writes. */
  access = (line: string): void => {
    this.accessLines.push(line.trimEnd());
    recordText(`${this.label} (access)`, line);
    this.wake();
  };

  private wake(): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test()) return true;
      waiter.done.resolve();
      return false;
    });
  }

  info = (message: string) => this.push("INFO", message);
  warn = (message: string) => this.push("WARN", message);
  error = (message: string) => this.push("ERROR", message);

  get text(): string {
    return this.lines.join("\n");
  }

  /**
   * Resolves once `test()` holds: checked now and again after every new log line (every reload,
   * accepted or rejected, logs one), failing with `label` after `ms`.
   */
  until(test: () => boolean, ms: number, label: string): Promise<void> {
    if (test()) return Promise.resolve();
    const done = deferred();
    this.waiters.push({ test, done });
    return within(done.promise, ms, label);
  }

  /** Resolves with the first line (from index `from` on) that matches. */
  async line(match: (line: string) => boolean, ms: number, label: string, from = 0): Promise<string> {
    let found: string | undefined;
    await this.until(() => (found = this.lines.slice(from).find(match)) !== undefined, ms, label);
    return found!;
  }
}
