// The diagnostic log (start-up, warnings, reloads, errors, drain) on stderr. Each line is text
// (`<time> <LEVEL> <message>`) or, with `log.format: "json"`, one JSON object: `time`, `level`,
// `msg` (the text line's message) and the line's structured fields. The format is asked for at
// every line, so it follows config reloads.

/** Structured fields of one line (never a secret). In text lines they are not printed: the message carries them. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogFormat = "text" | "json";
export type LogLevel = "info" | "warn" | "error";

/** The environment variable that names the log format when the config does not (and before any config is read). */
export const LOG_FORMAT_ENV = "CM_OPEN_WEBUI_PROXY_LOG_FORMAT";

/** "text" or "json" (any case, blanks around ignored), else undefined. */
export function parseLogFormat(value: unknown): LogFormat | undefined {
  if (typeof value !== "string") return undefined;
  const format = value.trim().toLowerCase();
  return format === "text" || format === "json" ? format : undefined;
}

const RESERVED = new Set(["time", "level", "msg"]);

/** Errors become their message (JSON.stringify would print `{}`), bigints their digits. */
function plain(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

/**
 * One JSON object on one line: `time`, `level`, `msg`, then `fields` (which cannot replace those
 * three; undefined ones are left out). A field that cannot be serialized costs the fields, never the line.
 */
export function jsonLine(level: LogLevel, message: string, fields?: LogFields, time: Date = new Date()): string {
  const entry: Record<string, unknown> = { time: time.toISOString(), level, msg: message };
  if (fields) for (const [key, value] of Object.entries(fields)) if (!RESERVED.has(key)) entry[key] = value;
  try {
    return `${JSON.stringify(entry, plain)}\n`;
  } catch {
    return `${JSON.stringify({ time: entry.time, level, msg: message, fieldsDropped: "not serializable" })}\n`;
  }
}

const TEXT_LEVEL: Record<LogLevel, string> = { info: "INFO ", warn: "WARN ", error: "ERROR" };

/** `2026-12-07T00:46:56.000Z INFO  <message>`: the fields are not printed (the message says it all). */
export function textLine(level: LogLevel, message: string, time: Date = new Date()): string {
  return `${time.toISOString()} ${TEXT_LEVEL[level]} ${message}\n`;
}

/**
 * A logger writing each line (default: to stderr) in the format `format()` names at that moment
 * (default text).
 */
export function consoleLogger(write: (line: string) => void = (line) => process.stderr.write(line), format: () => LogFormat = () => "text"): Logger {
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) =>
    write(format() === "json" ? jsonLine(level, message, fields) : textLine(level, message));
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

const RANK = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** Passes on only the lines at or above the level `level()` names now (it follows config reloads). */
export function leveled(log: Logger, level: () => keyof typeof RANK | undefined): Logger {
  const at = (wanted: keyof typeof RANK) => RANK[level() ?? "info"] <= RANK[wanted];
  return {
    info: (message, fields) => at("info") && log.info(message, fields),
    warn: (message, fields) => at("warn") && log.warn(message, fields),
    error: (message, fields) => log.error(message, fields),
  };
}
