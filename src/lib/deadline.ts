/**
 * Settles like `work`, unless `ms` pass first: then settles like `onTimeout()` (its value, or its
 * throw). The timer is cleared either way, so a finished race keeps no timer (nor the process) alive.
 * `work` itself is not cancelled; whoever owns it decides what a late result means.
 */
export async function withDeadline<T, F>(work: Promise<T>, ms: number, onTimeout: () => F): Promise<T | F> {
  let timer: Timer | undefined;
  const deadline = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
