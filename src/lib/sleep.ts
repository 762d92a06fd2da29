// A wait that ends early, with `reason()`, when its signal aborts.

/** Waits `ms`, or rejects with `reason()` at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal, reason: () => Error): Promise<void> {
  if (signal.aborted) return Promise.reject(reason());
  if (ms <= 0) return Promise.resolve();
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const onAbort = () => {
    clearTimeout(timer);
    reject(reason());
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}
