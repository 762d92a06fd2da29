import { RequestRecord, type Outcome, type Usage, type UserInfo } from "../record";

/** Ended request records for the usage-store tests: only the fields a usage row reads matter. */
export interface RecordSpec {
  model?: string | null;
  target?: string | null;
  client?: string | null;
  user?: UserInfo | null;
  status?: number;
  outcome?: Outcome;
  usage?: Usage | null;
  durationMs?: number;
  ttfbMs?: number | null;
  startedAt?: number;
}

let recordCount = 0;
/** How many records `record` has made: the last one's id is `req-<that number>`. */
export const recordsMade = () => recordCount;
export function record(spec: RecordSpec = {}): RequestRecord {
  const r = new RequestRecord(`req-${++recordCount}`, "POST", "/v1/chat/completions", () => {});
  r.modelRequested = spec.model === undefined ? "gpt" : spec.model;
  r.servedModel = r.modelRequested;
  r.servedTarget = spec.target === undefined ? "gpt#0" : spec.target;
  r.clientName = spec.client ?? null;
  r.user = spec.user ?? null;
  r.usage = spec.usage === undefined ? { promptTokens: 3, completionTokens: 4, totalTokens: 7 } : spec.usage;
  r.ttfbMs = spec.ttfbMs === undefined ? 12.4 : spec.ttfbMs;
  r.end(spec.status ?? 200, spec.outcome ?? "ok");
  r.durationMs = spec.durationMs ?? 100;
  if (spec.startedAt !== undefined) (r as { startedAt: number }).startedAt = spec.startedAt;
  return r;
}
