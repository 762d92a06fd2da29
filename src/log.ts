/** Minimal leveled logger; every line is one JSON-free, human-readable line on stderr. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function consoleLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const emit = (level: string, message: string) => write(`${new Date().toISOString()} ${level} ${message}\n`);
  return {
    info: (message) => emit("INFO ", message),
    warn: (message) => emit("WARN ", message),
    error: (message) => emit("ERROR", message),
  };
}

const RANK = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** Passes on only the lines at or above the level `level()` names now (it follows config reloads). */
export function leveled(log: Logger, level: () => keyof typeof RANK | undefined): Logger {
  const at = (wanted: keyof typeof RANK) => RANK[level() ?? "info"] <= RANK[wanted];
  return {
    info: (message) => at("info") && log.info(message),
    warn: (message) => at("warn") && log.warn(message),
    error: (message) => log.error(message),
  };
}
