// OpenAI function tools and tool_choice → Anthropic tools and tool_choice.
import { invalidRequest } from "../../model/errors";
import { toolUses, type Turn } from "./conversation";
import type { MessagesRequest, ToolChoice, ToolDefinition } from "./types";
import { isRecord, lookup, type ChatBody } from "./values";

/** OpenAI's string tool_choice values → Anthropic's types. */
const TOOL_CHOICE: Readonly<Record<string, "auto" | "any" | "none">> = { auto: "auto", required: "any", none: "none" };

/**
 * The request's tools and tool_choice. Without tools, a history that holds tool calls still gets
 * the tools it used declared (the API refuses tool blocks in a request without tools), with
 * tool_choice none so the model cannot call them.
 */
export function toolsOf(chat: ChatBody, turns: Turn[], thinking: boolean): Pick<MessagesRequest, "tools" | "tool_choice"> {
  const tools = [...functionTools(chat.tools, "tools"), ...functionTools(chat.functions, "functions")];
  if (tools.length === 0) {
    const used = [...new Set(turns.flatMap((turn) => toolUses(turn).map((use) => use.name)))];
    if (used.length === 0) return {};
    return { tools: used.map((name) => ({ name, input_schema: { type: "object" } })), tool_choice: { type: "none" } };
  }
  const choice = toolChoiceOf(chat.tool_choice ?? chat.function_call, chat.parallel_tool_calls === false, thinking);
  return choice ? { tools, tool_choice: choice } : { tools };
}

function functionTools(list: unknown, param: string): ToolDefinition[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidRequest(`${param} must be an array`, param);
  return list.map((tool, i) => {
    const at = `${param}[${i}]`;
    // `tools` entries wrap the function; legacy `functions` entries are the function.
    const fn = param === "tools" ? (isRecord(tool) && (tool.type === "function" || tool.type === undefined) ? tool.function : null) : tool;
    if (!isRecord(fn)) throw invalidRequest(`${at}: only function tools can be sent to an Anthropic backend`, at);
    if (typeof fn.name !== "string" || fn.name === "") throw invalidRequest(`${at}.function.name must be a string`, at);
    const schema = isRecord(fn.parameters) ? fn.parameters : { properties: {} };
    const definition: ToolDefinition = { name: fn.name, input_schema: schema.type === undefined ? { type: "object", ...schema } : schema };
    if (typeof fn.description === "string" && fn.description !== "") definition.description = fn.description;
    return definition;
  });
}

/**
 * OpenAI's choice (a string, `{type:"function",function:{name}}`, or the legacy `{name}`) as
 * Anthropic's; null for the API's default. With thinking on, the API refuses a forced choice
 * (any/tool): it becomes auto.
 */
function toolChoiceOf(choice: unknown, serial: boolean, thinking: boolean): ToolChoice | null {
  const name = isRecord(choice) ? (isRecord(choice.function) ? choice.function.name : choice.name) : undefined;
  let type = choice === undefined || choice === null ? "auto" : typeof name === "string" ? "tool" : lookup(TOOL_CHOICE, choice);
  if (type === undefined) throw invalidRequest("tool_choice must be auto, required, none or a named function", "tool_choice");
  if (thinking && (type === "any" || type === "tool")) type = "auto";
  if (type === "none") return { type };
  if (type === "auto" && !serial && (choice === undefined || choice === null)) return null;
  const base: Exclude<ToolChoice, { type: "none" }> = type === "tool" ? { type, name: name as string } : { type: type as "auto" | "any" };
  return serial ? { ...base, disable_parallel_tool_use: true } : base;
}
