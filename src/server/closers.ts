// Shutdown in one place: whatever start opened is closed here, in reverse order of opening.
import type { Logger } from "../lib/log";

/** Closes one thing; `graceful` says whether work in flight may finish first (shutdown) or not (stop). */
export type Closer = (graceful: boolean) => unknown;

/**
 * The things a running server holds, closed last-opened first, each exactly once. A closer that
 * fails is logged and the rest still close: shutdown never stops half-way.
 */
export class Closers {
  private readonly stack: { readonly name: string; readonly close: Closer }[] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  /** Registers what was just opened; it closes before everything registered earlier. */
  add(name: string, close: Closer): void {
    this.stack.push({ name, close });
  }

  /** Closes everything, once: a second call waits for the first. */
  close(graceful: boolean): Promise<void> {
    return (this.closing ??= this.closeAll(graceful));
  }

  private async closeAll(graceful: boolean): Promise<void> {
    for (let entry = this.stack.pop(); entry; entry = this.stack.pop()) {
      try {
        await entry.close(graceful);
      } catch (error) {
        const reason = (error as Error)?.message ?? String(error);
        this.log.error(`closing ${entry.name} failed: ${reason}`, { closer: entry.name, error: reason });
      }
    }
  }
}
