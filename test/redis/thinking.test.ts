// Anthropic's signed thinking of a tool turn, kept through Redis: the client's next turn lands on
// another instance than the one that answered the tool call, and the thinking still goes back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { anthropicReply, startMockAnthropic, type MockAnthropic } from "../support/mock-anthropic";
import { startProxy } from "../support/proxy";
import { redisSuite } from "./suite";

const KEY = "ck-redis-thinking-0000000000000";
const suite = redisSuite({ mocks: [], testsTakeRedisAway: false });
let anthropic: MockAnthropic;

beforeAll(() => {
  anthropic = startMockAnthropic("sk-ant-thinking-backend-key");
});
afterAll(async () => {
  await anthropic.stop();
});

async function instance(label: string, redis: boolean) {
  const config = {
    endpoints: { claude: { provider: "anthropic", url: anthropic.url, apiKey: "sk-ant-thinking-backend-key", actualModelName: "claude-sonnet-4-5" } },
    clientKeys: [{ key: KEY, name: "team" }],
    ...(redis && { state: { redis: suite.redis.url } }),
  };
  const proxy = suite.stopAfterTest(await startProxy(config, { label }));
  return new OpenAI({ baseURL: proxy.url("/v1"), apiKey: KEY, maxRetries: 0 });
}

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
];

/**
 * Waits until the first instance's write of a turn's thinking reached Redis: it is sent without
 * waiting (never on the request path), so a second instance whose Redis connection came up first
 * could otherwise read before it lands.
 */
async function keptInRedis(toolCallId: string) {
  const client = await suite.redis.client();
  for (let poll = 0; poll < 200; poll++) {
    if ((await client.send("EXISTS", [`cm-proxy:thinking:${toolCallId}`])) === 1) return;
    await Bun.sleep(5);
  }
  throw new Error(`the thinking of ${toolCallId} never reached Redis`);
}

/** Turn 1 on `first`, turn 2 (the tool's result) on `second`: what the backend got for turn 2. */
async function twoTurns(first: OpenAI, second: OpenAI, settle: (toolCallId: string) => Promise<void> = async () => {}) {
  anthropic.reset();
  anthropic.willReply(
    anthropicReply.answer({
      content: [
        { type: "thinking", thinking: "The weather needs a lookup." },
        { type: "tool_use", name: "get_weather", input: { city: "Oslo" } },
      ],
    }),
  );
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Oslo?" }];
  const turn1 = await first.chat.completions.create({ model: "claude", messages, tools, reasoning_effort: "low" });
  const call = turn1.choices[0]!.message.tool_calls![0]!;
  await settle(call.id);
  messages.push({ role: "assistant", content: null, tool_calls: [call] });
  messages.push({ role: "tool", tool_call_id: call.id, content: "sunny" });
  anthropic.willReply(anthropicReply.answer({ content: [{ type: "text", text: "Sunny in Oslo." }] }));
  const turn2 = await second.chat.completions.create({ model: "claude", messages, tools, reasoning_effort: "low" });
  expect(turn2.choices[0]!.message.content).toBe("Sunny in Oslo.");
  return anthropic.last;
}

describe("thinking kept through state.redis", () => {
  test("the next turn on another instance gets the first instance's signed thinking back, and thinking stays on", async () => {
    const [a, b] = [await instance("thinking-a", true), await instance("thinking-b", true)];
    const turn2 = await twoTurns(a, b, keptInRedis);
    expect(turn2.refusal).toBeNull();
    expect(turn2.body.messages[1].content[0]).toMatchObject({ type: "thinking", thinking: "The weather needs a lookup." });
    expect(turn2.body.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
  });

  test("without Redis the other instance has nothing to put back: the turn goes without thinking rather than be refused", async () => {
    const [a, b] = [await instance("alone-a", false), await instance("alone-b", false)];
    const turn2 = await twoTurns(a, b);
    expect(turn2.refusal).toBeNull();
    expect(turn2.body.thinking).toBeUndefined();
  });
});
