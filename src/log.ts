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
