import { dirname, join } from "node:path";
import type { Usage } from "../../src/model/usage";
import { SqliteUsageStore } from "../../src/observe/usage/sqlite-store";
import { RequestRecord, type Outcome, type UserInfo } from "../../src/observe/record";

/** Ended request records for the usage-store tests: only the fields a usage row reads matter. */
export interface RecordSpec {
  model?: string | null;
  /** The model that served it, when another than the one asked for (a fallback). */
  served?: string;
  target?: string | null;
  client?: string | null;
  user?: UserInfo | null;
  status?: number;
  outcome?: Outcome;
  usage?: Usage | null;
  durationMs?: number;
  ttfbMs?: number | null;
  startedAt?: number;
  costUsd?: number | null;
  priceSource?: string | null;
  clientKeyId?: string | null;
}

let recordCount = 0;
export function record(spec: RecordSpec = {}): RequestRecord {
  const r = new RequestRecord(`req-${++recordCount}`, "POST", "/v1/chat/completions", () => {});
  r.modelRequested = spec.model === undefined ? "gpt" : spec.model;
  r.servedModel = spec.served ?? r.modelRequested;
  r.servedTarget = spec.target === undefined ? "gpt#0" : spec.target;
  r.clientName = spec.client ?? null;
  r.user = spec.user ?? null;
  r.usage = spec.usage === undefined ? { promptTokens: 3, completionTokens: 4, totalTokens: 7 } : spec.usage;
  r.ttfbMs = spec.ttfbMs === undefined ? 12.4 : spec.ttfbMs;
  r.costUsd = spec.costUsd ?? null;
  r.priceSource = spec.priceSource ?? null;
  r.clientKeyId = spec.clientKeyId ?? null;
  r.end(spec.status ?? 200, spec.outcome ?? "ok");
  r.durationMs = spec.durationMs ?? 100;
  if (spec.startedAt !== undefined) (r as { startedAt: number }).startedAt = spec.startedAt;
  return r;
}

/** A full record (client, user, usage, timings) and the row both stores must write for it. */
export const FULL_SPEC: RecordSpec = {
  client: "alice",
  user: { id: "u1", email: "a@example.com", name: "Ann" },
  durationMs: 123.6,
  ttfbMs: 45.5,
  costUsd: 0.000123456789,
  priceSource: "config",
  clientKeyId: "key_0123",
};
export const FULL_ROW = {
  client: "alice",
  user_id: "u1",
  user_email: "a@example.com",
  user_name: "Ann",
  model: "gpt",
  served_model: "gpt",
  target: "gpt#0",
  status: 200,
  outcome: "ok",
  prompt_tokens: 3,
  completion_tokens: 4,
  total_tokens: 7,
  ttfb_ms: 46,
  duration_ms: 124,
  cost_usd: 0.000123456789,
  price_source: "config",
  key_id: "key_0123",
};
/** A bare record (long model id, no target, client, user, usage or first byte) and its row. */
export const BARE_SPEC: RecordSpec = { model: "x".repeat(1000), target: null, usage: null, ttfbMs: null, status: 404 };
export const BARE_ROW = {
  model: "x".repeat(256),
  target: null,
  client: null,
  user_id: null,
  prompt_tokens: null,
  ttfb_ms: null,
  status: 404,
  cost_usd: null,
  price_source: null,
  key_id: null,
};

/** A usage file with the real schema and no rows, made by the store itself at `path`. */
export async function emptyUsageFile(path: string): Promise<string> {
  const store = SqliteUsageStore.open({
    path,
    configFile: join(dirname(path), "config.json"),
    queueSize: 1,
    retentionDays: () => 90,
    log: { info() {}, warn() {}, error() {} },
  });
  await store.close();
  return path;
}
