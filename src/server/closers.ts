// Shutdown in one place: whatever start opened is closed here, in reverse order of opening.
import type { Logger } from "../lib/log";

/** Closes one thing; `graceful` says whether work in flight may finish first (shutdown) or not (stop). */
export type Closer = (graceful: boolean) => unknown;

export interface CloserOptions {
  /**
   * How long a graceful close may take before shutdown moves on without it (a store that stopped
   * answering must not hold the process). None: as long as it takes (the server's drain has its own).
   */
  readonly deadlineMs?: number;
}

/**
 * The things a running server holds, closed last-opened first, each exactly once. A closer that
 * fails, or outlives its deadline, is logged and the rest still close: shutdown never stops
 * half-way. A forced close (`close(false)`, a second signal) during a graceful one stops waiting
 * for the closer under way and closes the rest without grace.
 */
export class Closers {
  private readonly stack: { readonly name: string; readonly close: Closer; readonly options: CloserOptions }[] = [];
  private closing: Promise<void> | null = null;
  private readonly forced = Promise.withResolvers<void>();
  private isForced = false;

  constructor(private readonly log: Logger) {}

  /** Registers what was just opened; it closes before everything registered earlier. */
  add(name: string, close: Closer, options: CloserOptions = {}): void {
    this.stack.push({ name, close, options });
  }

  /** Closes everything, once: a second call waits for the first (and, when forced, hurries it). */
  close(graceful: boolean): Promise<void> {
    if (!graceful && !this.isForced) {
      this.isForced = true;
      this.forced.resolve();
    }
    return (this.closing ??= this.closeAll());
  }

  private async closeAll(): Promise<void> {
    for (let entry = this.stack.pop(); entry; entry = this.stack.pop()) {
      const { name, options } = entry;
      const graceful = !this.isForced;
      let timer: Timer | undefined;
      // Caught here, not where it is awaited: a closer left behind may still fail later.
      const closed = Promise.try(() => entry.close(graceful)).then(
        () => "closed" as const,
        (error: unknown) => {
          const reason = (error as Error)?.message ?? String(error);
          this.log.error(`closing ${name} failed: ${reason}`, { closer: name, error: reason });
          return "closed" as const;
        },
      );
      const waits: Promise<"closed" | "forced" | "late">[] = [closed];
      if (graceful) waits.push(this.forced.promise.then(() => "forced" as const));
      if (graceful && options.deadlineMs !== undefined) {
        waits.push(new Promise((resolve) => (timer = setTimeout(() => resolve("late"), options.deadlineMs))));
      }
      const outcome = await Promise.race(waits);
      clearTimeout(timer);
      if (outcome === "forced") this.log.warn(`closing ${name}: not waited for any longer (forced stop)`, { closer: name });
      if (outcome === "late") this.log.warn(`closing ${name} took over ${options.deadlineMs} ms: shutdown goes on without it`, { closer: name });
    }
  }
}
