// Event helpers: tests wait on promises that something resolves, never on sleeps. Every wait is
// bounded so a broken proxy fails the test with a clear label instead of hanging the suite.
import { withDeadline } from "../../src/lib/deadline";

export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => {}); // a rejection nobody awaited is not an unhandled error
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve(value) {
      settled = true;
      resolve(value);
    },
    reject(error) {
      settled = true;
      reject(error);
    },
  };
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Resolves with `promise`, or rejects with a TimeoutError naming `label` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  return withDeadline(promise, ms, (): never => {
    throw new TimeoutError(`timed out after ${ms} ms waiting for: ${label}`);
  });
}

/** An append-only, ordered record of what happened, shared by a mock and a test. */
export class EventLog {
  readonly entries: string[] = [];
  private waiters: { name: string; done: Deferred<void> }[] = [];

  push(name: string): void {
    this.entries.push(name);
    for (const waiter of this.waiters) if (waiter.name === name) waiter.done.resolve();
    this.waiters = this.waiters.filter((waiter) => waiter.name !== name);
  }

  indexOf(name: string): number {
    return this.entries.indexOf(name);
  }

  /** Resolves once an entry named `name` was pushed (now or before). */
  waitFor(name: string, ms: number): Promise<void> {
    if (this.entries.includes(name)) return Promise.resolve();
    const done = deferred();
    this.waiters.push({ name, done });
    return within(done.promise, ms, `event '${name}'`);
  }
}
