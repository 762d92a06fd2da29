// What a stream that ends without its final usage is charged: the backend bills what it generated,
// reported or not (the client pressed Stop, the backend broke, it was not asked for usage).
import { tokenUsage, type Usage } from "../model/usage";

/** A chat chunk's `delta`, or a legacy completion's `text`: about a token each from OpenAI, vLLM, llama.cpp and Ollama. */
export const CHAT_PIECES = [Buffer.from('"delta"'), Buffer.from('"text"')];
/** A Messages stream's `content_block_delta` (its `text` is inside the delta: not counted twice). */
export const MESSAGES_PIECES = [Buffer.from('"delta"')];

/**
 * Counts the pieces of an answer that pass, one per key of the kinds given: inside a JSON string a
 * quote is escaped, so these bytes are always a key (a piece whose key is split between two chunks
 * is not counted).
 */
export class PieceCounter {
  count = 0;

  constructor(private readonly keys: readonly Buffer[]) {}

  see(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (const key of this.keys) for (let at = bytes.indexOf(key); at !== -1; at = bytes.indexOf(key, at + key.length)) this.count++;
  }
}

/**
 * The usage of a stream that ended without its final usage: the prompt as reported so far (a
 * Messages stream reports it first), else `promptTokens` (estimated from the request), and at least
 * one completion token per piece relayed.
 */
export function usageSoFar(reported: Usage | null, promptTokens: number, pieces: number): Usage {
  const prompt = reported && reported.promptTokens > 0 ? reported.promptTokens : promptTokens;
  const completion = Math.max(reported?.completionTokens ?? 0, pieces);
  return tokenUsage(prompt, completion, prompt + completion, reported?.cachedPromptTokens ?? 0, reported?.cacheWritePromptTokens ?? 0);
}
