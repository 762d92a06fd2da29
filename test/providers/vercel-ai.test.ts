// The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`), unmodified, against the proxy's chat
// completions served by the Anthropic and Gemini mocks: `streamText` with a tool over two steps (the
// tool call streamed, run by the SDK, its result sent back, the answer streamed).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, stepCountIs, streamText, tool } from "ai";
import { anthropicReply, startMockAnthropic, type MockAnthropic } from "../support/mock-anthropic";
import { geminiReply, startMockGemini, type MockGemini } from "../support/mock-gemini";
import { CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { registerSecret } from "../support/transcript";

const ANTHROPIC_KEY = registerSecret("sk-ant-vercel-test-0123456789-SECRET", "vercel ai test: anthropic backend key");
const GEMINI_KEY = registerSecret("AIzaSy-vercel-test-0123456789-SECRET", "vercel ai test: gemini backend key");

let anthropic: MockAnthropic;
let gemini: MockGemini;
let proxy: ProxyHandle;

beforeAll(async () => {
  anthropic = startMockAnthropic(ANTHROPIC_KEY);
  gemini = startMockGemini(GEMINI_KEY);
  proxy = await startProxy(
    {
      endpoints: {
        claude: { provider: "anthropic", url: anthropic.url, apiKey: ANTHROPIC_KEY, actualModelName: "claude-sonnet-4-5" },
        flash: { provider: "gemini", url: gemini.url, apiKey: GEMINI_KEY, actualModelName: "gemini-3-flash-preview" },
      },
    },
    { label: "vercel ai proxy log" },
  );
});
beforeEach(() => {
  anthropic.reset();
  gemini.reset();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([anthropic.stop(), gemini.stop()]);
  removeTempDirs();
});

const provider = () => createOpenAICompatible({ name: "proxy", baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, includeUsage: true });

/** streamText with one tool, up to two steps; what the SDK made of it. */
async function weatherConversation(model: string) {
  const calls: unknown[] = [];
  const result = streamText({
    model: provider().chatModel(model),
    prompt: "Weather in Oslo?",
    tools: {
      get_weather: tool({
        description: "The weather in a city",
        inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
        execute: async (input) => {
          calls.push(input);
          return { forecast: "sunny" };
        },
      }),
    },
    stopWhen: stepCountIs(2),
  });
  const text = await result.text;
  const steps = await result.steps;
  return { text, steps, calls };
}

describe("streamText with tools through chat completions", () => {
  test("an Anthropic backend: the call's arguments streamed whole, tool-calls, then the answer", async () => {
    anthropic.willReply((request) =>
      request.body.messages.length === 1
        ? anthropicReply.answer({
            content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Oslo" } }],
            usage: { input_tokens: 20, output_tokens: 8 },
          })
        : anthropicReply.text("Sunny in Oslo.", { usage: { input_tokens: 30, output_tokens: 4 } }),
    );
    const { text, steps, calls } = await weatherConversation("claude");
    expect(calls).toEqual([{ city: "Oslo" }]);
    expect(steps.map((step) => step.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(text).toBe("Sunny in Oslo.");
    expect(anthropic.requests.length).toBe(2);
    expect(anthropic.last.refusal).toBeNull();
    expect(steps[0]!.usage.inputTokens).toBe(20);
  });

  test("a Gemini backend: the late STOP still ends the step with tool-calls", async () => {
    gemini.willReply((request) =>
      request.body.contents.length === 1
        ? geminiReply.calls([{ name: "get_weather", args: { city: "Oslo" } }], { lateStop: true })
        : geminiReply.text("Sunny in Oslo."),
    );
    const { text, steps, calls } = await weatherConversation("flash");
    expect(calls).toEqual([{ city: "Oslo" }]);
    expect(steps.map((step) => step.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(text).toBe("Sunny in Oslo.");
    expect(gemini.last.refusal).toBeNull();
  });
});
