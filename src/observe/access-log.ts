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
    // A cost overflowed by an absurd price or usage is no number JSON can carry.
    costUsd: record.costUsd !== null && Number.isFinite(record.costUsd) ? record.costUsd : null,
    client: record.clientName,
    user: record.user?.id ?? record.user?.email ?? null,
    outcome: record.outcome,
  };
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

/** Characters a text line must never carry raw: spaces and quotes would split it, control characters would drive the terminal it is shown on. */
const NEEDS_QUOTING = /[\s"\u0000-\u001f\u007f-\u009f]/;

/** A quoted value: JSON's escapes, and DEL and the C1 controls (which JSON leaves as they are) escaped too. */
const quoted = (text: string) => JSON.stringify(text).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** `key=value` pairs, quoting values with spaces, quotes or control characters so a line always splits back into its fields. */
function textLine(entry: ReturnType<typeof accessEntry>): string {
  const pairs = Object.entries(entry).map(([key, value]) => {
    const text = value === null ? "-" : String(value);
    return `${key}=${NEEDS_QUOTING.test(text) ? quoted(text) : text}`;
  });
  return `${pairs.join(" ")}\n`;
}

const str = (value: string | null) => (value === null ? "null" : JSON.stringify(value));

/**
 * One JSON object: `time`, `level` and `msg` first, as in every JSON line the process writes
 * (`msg` is "<method> <path> <status>"), then the entry's fields. Written out by hand: a line per
 * request is on every request's bill, and building an object to stringify it cost twice as much.
 */
function jsonLine(e: ReturnType<typeof accessEntry>): string {
  return (
    `{"time":"${e.time}","level":"info","msg":${JSON.stringify(`${e.method} ${e.path} ${e.status}`)},"requestId":${str(e.requestId)},` +
    `"method":${str(e.method)},"path":${str(e.path)},"model":${str(e.model)},"servedModel":${str(e.servedModel)},"target":${str(e.target)},` +
    `"attempts":${e.attempts},"status":${e.status},"bytesOut":${e.bytesOut},"ttfbMs":${e.ttfbMs},"durationMs":${e.durationMs},` +
    `"promptTokens":${e.promptTokens},"completionTokens":${e.completionTokens},"costUsd":${e.costUsd},"client":${str(e.client)},"user":${str(e.user)},"outcome":"${e.outcome}"}\n`
  );
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
