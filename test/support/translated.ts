// What the provider suites read back from a proxy after a translated request: its end, its usage
// row, and a stream folded the way an OpenAI client folds it.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import type OpenAI from "openai";
import type { ProxyHandle } from "./proxy";

/** Waits until the request that got `response` has ended (its access line is written then); its id. */
export async function requestEnded(proxy: ProxyHandle, response: { headers: Headers }): Promise<string> {
  const id = response.headers.get("x-request-id");
  if (!id) throw new Error("the answer has no x-request-id");
  await proxy.log.until(() => proxy.log.accessLines.some((line) => line.includes(id)), 5000, `the access line of request ${id}`);
  return id;
}

/** The usage row the proxy's SQLite store wrote for request `id`. */
export async function usageRow(proxy: ProxyHandle, id: string): Promise<Record<string, any>> {
  await proxy.server.usage!.flush();
  const db = new Database(join(proxy.dir, "usage.db"), { readonly: true });
  try {
    return db.query("SELECT * FROM usage WHERE request_id = ?").get(id) as Record<string, any>;
  } finally {
    db.close();
  }
}

/** A stream read the way an OpenAI client folds it: content, reasoning, tool calls, finish reason, usage. */
export async function folded(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let content = "";
  let reasoning = "";
  let finish: string | null = null;
  let usage: OpenAI.Completions.CompletionUsage | null = null;
  const calls: { id: string; type: "function"; function: { name: string; arguments: string } }[] = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    reasoning += (choice.delta as { reasoning_content?: string }).reasoning_content ?? "";
    finish = choice.finish_reason ?? finish;
    for (const call of choice.delta.tool_calls ?? []) {
      calls[call.index] ??= { id: call.id!, type: "function", function: { name: call.function!.name!, arguments: "" } };
      calls[call.index]!.function.arguments += call.function?.arguments ?? "";
    }
  }
  return { content, reasoning, finish, usage, calls };
}
