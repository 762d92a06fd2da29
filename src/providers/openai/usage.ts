import type { Usage } from "../../model/usage";

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null);

/**
 * The token counts in a parsed response body or stream chunk: chat/completions/embeddings report
 * `usage.prompt_tokens`/`completion_tokens`; the Responses API reports `input_tokens`/
 * `output_tokens`, at the top of a response or inside the `response` of its last stream event.
 */
export function usageOf(value: unknown): Usage | null {
  if (value === null || typeof value !== "object") return null;
  const record = value as { usage?: unknown; response?: unknown };
  const usage = record.usage as Record<string, unknown> | null | undefined;
  if (usage === null || typeof usage !== "object") return record.response ? usageOf(record.response) : null;
  const prompt = count(usage.prompt_tokens) ?? count(usage.input_tokens);
  const completion = count(usage.completion_tokens) ?? count(usage.output_tokens) ?? (prompt !== null ? 0 : null);
  if (prompt === null || completion === null) return null;
  return { promptTokens: prompt, completionTokens: completion, totalTokens: count(usage.total_tokens) ?? prompt + completion };
}

const decoder = new TextDecoder();

/** The usage in a whole JSON body, or null when it is not JSON or reports none. */
export function usageOfBody(body: ArrayBuffer | Uint8Array): Usage | null {
  try {
    return usageOf(JSON.parse(decoder.decode(body)));
  } catch {
    return null;
  }
}
