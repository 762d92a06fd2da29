import type { LogSettings } from "../config/schema";
import type { LogFormat } from "../lib/log";
import type { RequestRecord } from "./record";

/** The fields of one access-log line; never a key (the client key's configured name only). */
export function accessEntry(record: RequestRecord) {
  return {
    time: new Date(record.startedAt + record.durationMs).toISOString(),
    requestId: record.id,
    method: record.method,
    path: record.path,
    model: record.modelRequested,
    servedModel: record.servedModel,
    target: record.servedTarget,
    attempts: record.tries.length,
    status: record.status,
    bytesOut: record.bytesOut,
    ttfbMs: round(record.ttfbMs),
    durationMs: round(record.durationMs),
    promptTokens: record.usage?.promptTokens ?? null,
    completionTokens: record.usage?.completionTokens ?? null,
    client: record.clientName,
    user: record.user?.id ?? record.user?.email ?? null,
    outcome: record.outcome,
  };
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

/** `key=value` pairs, quoting values with spaces or quotes so a line always splits back into its fields. */
function textLine(entry: ReturnType<typeof accessEntry>): string {
  const pairs = Object.entries(entry).map(([key, value]) => {
    const text = value === null ? "-" : String(value);
    return `${key}=${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;
  });
  return `${pairs.join(" ")}\n`;
}

/**
 * One JSON object: `time`, `level` and `msg` first, as in every JSON line the process writes
 * (`msg` is "<method> <path> <status>"), then the entry's fields.
 */
function jsonLine(entry: ReturnType<typeof accessEntry>): string {
  const { time, ...fields } = entry;
  return `${JSON.stringify({ time, level: "info", msg: `${entry.method} ${entry.path} ${entry.status}`, ...fields })}\n`;
}

/**
 * One line per request when it ends, on stdout: JSON (one object per line) or `key=value` text, as
 * `log.format` says, else as `defaultFormat` says (the caller's choice: the log-format environment
 * variable, else text on a terminal and JSON otherwise). `log.level` above `info` silences it.
 */
export function accessLog(settings: () => LogSettings, write: (line: string) => void, defaultFormat: LogFormat) {
  return (record: RequestRecord): void => {
    const { format = defaultFormat, level = "info" } = settings();
    if (level === "warn" || level === "error") return;
    const entry = accessEntry(record);
    write(format === "json" ? jsonLine(entry) : textLine(entry));
  };
}
