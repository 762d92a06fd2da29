import { tokenUsage, type Usage } from "../../model/usage";

/**
 * No request uses a trillion tokens: a count above it comes from a broken backend, and summed over
 * rows it would overflow the usage stores' integer sums (`/usage` would fail) and the costs.
 */
const MAX_TOKENS = 1e12;

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_TOKENS ? value : null);

/** A count inside a details object (`prompt_tokens_details.cached_tokens`), or null. */
const detail = (details: unknown, key: string) => (details !== null && typeof details === "object" ? count((details as Record<string, unknown>)[key]) : null);

/**
 * The token counts in a parsed response body or stream chunk: chat/completions/embeddings report
 * `usage.prompt_tokens`/`completion_tokens`; the Responses API reports `input_tokens`/
 * `output_tokens`, at the top of a response or inside the `response` of its last stream event.
 * Cached prompt tokens: OpenAI's `prompt_tokens_details.cached_tokens` (the Responses API's
 * `input_tokens_details`), or Anthropic's `cache_read_input_tokens` (a Messages answer, whose
 * `input_tokens` leaves out what was read from or written to the cache: both are added back).
 * Prompt tokens written to the cache: `cache_creation_input_tokens`, Anthropic's name, which
 * LiteLLM and this proxy's own translated answers also use.
 */
export function usageOf(value: unknown): Usage | null {
  if (value === null || typeof value !== "object") return null;
  const record = value as { usage?: unknown; response?: unknown };
  const usage = record.usage as Record<string, unknown> | null | undefined;
  if (usage === null || typeof usage !== "object") return record.response ? usageOf(record.response) : null;
  const cacheRead = count(usage.cache_read_input_tokens);
  const cacheWrite = count(usage.cache_creation_input_tokens);
  const input = count(usage.input_tokens);
  const prompt = count(usage.prompt_tokens) ?? (input === null ? null : input + (cacheRead ?? 0) + (cacheWrite ?? 0));
  const reported = count(usage.completion_tokens) ?? count(usage.output_tokens) ?? (prompt !== null ? 0 : null);
  if (prompt === null || reported === null) return null;
  const total = count(usage.total_tokens);
  const completion = reported + reasoningLeftOut(usage, prompt, reported, total);
  const cached = detail(usage.prompt_tokens_details, "cached_tokens") ?? detail(usage.input_tokens_details, "cached_tokens") ?? cacheRead ?? 0;
  return tokenUsage(prompt, completion, total ?? prompt + completion, cached, cacheWrite ?? 0);
}

/**
 * Reasoning tokens the completion count leaves out: OpenAI counts them in `completion_tokens` (and
 * tells them apart in its details), but some gateways' OpenAI-format usage of a Gemini answer counts
 * only the visible candidates there, and the thoughts in the details and the total alone. The
 * backend bills them as output all the same; the total tells which case it is.
 */
function reasoningLeftOut(usage: Record<string, unknown>, prompt: number, completion: number, total: number | null): number {
  const reasoning = detail(usage.completion_tokens_details, "reasoning_tokens") ?? detail(usage.output_tokens_details, "reasoning_tokens") ?? 0;
  return reasoning > 0 && total === prompt + completion + reasoning ? reasoning : 0;
}

const decoder = new TextDecoder();
const USAGE_KEY = Buffer.from('"usage"');
const [QUOTE, BACKSLASH, OPEN, CLOSE, COLON] = [0x22, 0x5c, 0x7b, 0x7d, 0x3a];
const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * Where the object value of the last `"usage"` key starts and ends (end exclusive), or null when
 * the key is followed by something else. Inside a JSON string a quote is escaped, so the bytes
 * `"usage"` are always a key (or a string value, which is not followed by an object).
 */
function usageObject(bytes: Uint8Array, keyAt: number): [number, number] | null {
  let i = keyAt + USAGE_KEY.length;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== COLON) return null;
  i++;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== OPEN) return null;
  const start = i;
  let depth = 0;
  for (let inString = false; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN) depth++;
    else if (byte === CLOSE && --depth === 0) return [start, i + 1];
  }
  return null;
}

/**
 * The usage in a whole JSON body, or null when it is not JSON or reports none. Answers put their
 * usage last, so only that small object is parsed; a body where it is not found that way is parsed
 * whole, and one that names no usage at all is not parsed.
 */
export function usageOfBody(body: ArrayBuffer | Uint8Array): Usage | null {
  const bytes = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.from(body);
  const keyAt = bytes.lastIndexOf(USAGE_KEY);
  if (keyAt === -1) return null;
  const usage = usageAt(bytes, keyAt);
  if (usage) return usage;
  try {
    return usageOf(JSON.parse(decoder.decode(bytes)));
  } catch {
    return null;
  }
}

/** The usage in the object value of the `"usage"` key at `keyAt`, or null when it holds none. */
function usageAt(bytes: Buffer, keyAt: number): Usage | null {
  const span = usageObject(bytes, keyAt);
  if (!span) return null;
  try {
    return usageOf({ usage: JSON.parse(decoder.decode(bytes.subarray(span[0], span[1]))) });
  } catch {
    return null;
  }
}

/** How many `"usage"` keys, from the last, `lastUsageIn` tries: a few `"usage": null` may come after the real one. */
const KEYS_TRIED = 16;

/**
 * The last usage object in bytes that need not be JSON as a whole: the kept tail of a stream, whose
 * first event may be cut (a Responses API stream's last event repeats the whole response).
 */
export function lastUsageIn(bytes: Buffer): Usage | null {
  let keyAt = bytes.lastIndexOf(USAGE_KEY);
  for (let tried = 0; keyAt !== -1 && tried < KEYS_TRIED; tried++) {
    const usage = usageAt(bytes, keyAt);
    if (usage) return usage;
    keyAt = keyAt === 0 ? -1 : bytes.lastIndexOf(USAGE_KEY, keyAt - 1);
  }
  return null;
}

/** The characters of the generated text in one parsed answer: what a whole answer without usage is charged for. */
function generatedCharacters(answer: Record<string, unknown>): number | null {
  let characters = 0;
  const add = (value: unknown) => {
    if (typeof value === "string") characters += value.length;
    else if (Array.isArray(value)) for (const part of value) add(part && typeof part === "object" ? (part as Record<string, unknown>).text : part);
  };
  const list = (value: unknown): Record<string, unknown>[] =>
    Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => item !== null && typeof item === "object") : [];
  switch (answer.object) {
    case "chat.completion":
      for (const choice of list(answer.choices)) {
        const message = (choice.message ?? {}) as Record<string, unknown>;
        for (const key of ["content", "reasoning_content", "reasoning", "refusal"]) add(message[key]);
        for (const call of list(message.tool_calls)) add((call.function as Record<string, unknown> | undefined)?.arguments);
      }
      return characters;
    case "text_completion":
      for (const choice of list(answer.choices)) add(choice.text);
      return characters;
    case "response":
      for (const item of list(answer.output)) {
        add(item.content);
        add(item.summary);
        add(item.arguments);
      }
      return characters;
    case "list":
      return list(answer.data).some((item) => item.object === "embedding") ? 0 : null;
    default:
      return null;
  }
}

/**
 * What to charge for a 2xx answer read whole that names no usage (the backend bills it all the
 * same): `promptTokens`, and a quarter of the characters of what it generated (a chat message's
 * content, reasoning and tool-call arguments; a legacy completion's text; a Responses API output's
 * text); embeddings only the prompt. Null for any other answer (images, audio, moderations): only
 * generation is estimated.
 */
export function estimatedUsageOfBody(body: ArrayBuffer | Uint8Array, promptTokens: number): Usage | null {
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(body));
  } catch {
    return null;
  }
  if (answer === null || typeof answer !== "object" || Array.isArray(answer)) return null;
  const completion = estimatedOutputTokens(answer as Record<string, unknown>);
  if (completion === null) return null;
  return tokenUsage(promptTokens, completion, promptTokens + completion);
}

/** A quarter of the characters an answer generated (see `estimatedUsageOfBody`); null for an answer that is no generation. */
export function estimatedOutputTokens(answer: Record<string, unknown>): number | null {
  const characters = generatedCharacters(answer);
  return characters === null ? null : Math.ceil(characters / 4);
}
