// The Claude Code CLI itself (npm @anthropic-ai/claude-code), unmodified and headless
// (`claude -p … --output-format json`), with ANTHROPIC_BASE_URL at the proxy, answering from an
// OpenAI-compatible backend through /v1/messages: a plain answer, and a turn that runs a tool (Bash)
// and answers from its result. The CLI asks for its own model names; an alias maps them.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { reply, startMock, type MockBackend, type RecordedRequest } from "../support/mock-backend";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";

const CLAUDE = resolve(import.meta.dir, "..", "..", "node_modules", ".bin", "claude");

let backend: MockBackend;
let proxy: ProxyHandle;
let home: string;

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "chatcmpl-cc", object: "chat.completion.chunk", created: 1700000000, model: "oai-model", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = (prompt: number, completion: number) =>
  `data: ${JSON.stringify({ id: "chatcmpl-cc", object: "chat.completion.chunk", created: 1700000000, model: "oai-model", choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } })}\n\n`;
const textStream = (text: string) =>
  reply.sse([chunk({ role: "assistant", content: "" }), chunk({ content: text }), chunk({}, "stop"), usage(50, 4), "data: [DONE]\n\n"]);
const textJson = (text: string) =>
  reply.json({
    id: "chatcmpl-cc",
    object: "chat.completion",
    created: 1700000000,
    model: "oai-model",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  });

beforeAll(async () => {
  backend = startMock("vllm");
  proxy = await startProxy(
    {
      clientKeys: [{ key: CLIENT_KEY, name: "claude-code" }],
      endpoints: { local: { url: backend.url, actualModelName: "oai-model", aliases: ["claude-*"] } },
    },
    { label: "claude code proxy log" },
  );
  home = mkdtempSync(join(tmpdir(), "claude-code-home-"));
});
beforeEach(() => backend.reset());
afterAll(async () => {
  await proxy.stop();
  await backend.stop();
  rmSync(home, { recursive: true, force: true });
  removeTempDirs();
});

/** Runs `claude -p prompt` headless against the proxy; its JSON result. */
async function claude(prompt: string, ...args: string[]): Promise<Record<string, any>> {
  const proc = Bun.spawn([CLAUDE, "-p", prompt, "--output-format", "json", "--model", "local", ...args], {
    cwd: home,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      ANTHROPIC_BASE_URL: proxy.url(""),
      ANTHROPIC_API_KEY: CLIENT_KEY,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_AUTOUPDATER: "1",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`claude exited ${code}: ${out}\n${err}`);
  return JSON.parse(out);
}

/** Whether a chat request carries a tool result (Claude Code's second turn of a tool loop). */
const hasToolResult = (request: RecordedRequest) => (request.json().messages as { role: string }[]).some((message) => message.role === "tool");

describe("the Claude Code CLI, headless, answered by an OpenAI-compatible backend", () => {
  test("a plain answer: the result text, its usage, no error", async () => {
    backend.willReply((request) => (request.json().stream ? textStream("PONG from vLLM") : textJson("PONG from vLLM")));
    const result = await claude("Say PONG");
    expect(result).toMatchObject({ type: "result", subtype: "success", is_error: false, result: "PONG from vLLM" });
    expect(result.usage.input_tokens).toBeGreaterThan(0);
    const sent = backend.requests.find((request) => request.json().stream === true)!;
    expect(sent.pathname).toBe("/v1/chat/completions");
    expect(sent.json().stream_options).toEqual({ include_usage: true });
  }, 60_000);

  test("a tool call: Bash runs, its output comes back as a tool message, and the answer uses it", async () => {
    backend.willReply((request) => {
      if (!request.json().stream) return textJson("ok");
      if (hasToolResult(request)) {
        const tool = (request.json().messages as { role: string; content: string }[]).find((message) => message.role === "tool")!;
        return textStream(`The tool said: ${tool.content.includes("tool-ran-42") ? "tool-ran-42" : "nothing"}`);
      }
      return reply.sse([
        chunk({ role: "assistant", content: "" }),
        chunk({ tool_calls: [{ index: 0, id: "call_bash_1", type: "function", function: { name: "Bash", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":"echo tool-ran-42",' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"description":"Echo a marker"}' } }] }),
        chunk({}, "tool_calls"),
        usage(80, 20),
        "data: [DONE]\n\n",
      ]);
    });
    const result = await claude("Run echo tool-ran-42 and tell me what it printed", "--allowedTools", "Bash");
    expect(result).toMatchObject({ subtype: "success", is_error: false, result: "The tool said: tool-ran-42" });
    expect(result.num_turns).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
