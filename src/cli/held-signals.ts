// The signals that come while the program is still loading, before `serve` installs its handlers
// for the start-up: without a handler, Bun's default action kills the process (a supervisor that
// stops or reloads it the moment it starts would see it die). They are held here from the first
// moment the entry can, and `serve` takes them over.

export const HELD_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
export type HeldSignal = (typeof HELD_SIGNALS)[number];

/** Holds those signals from now on; the function returned stops holding them and says which came, in order. */
export function holdSignals(): () => readonly HeldSignal[] {
  const held: HeldSignal[] = [];
  const handlers = HELD_SIGNALS.map((signal) => [signal, () => void held.push(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    return held;
  };
}
