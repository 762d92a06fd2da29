// Anthropic Messages API wire shapes (POST /v1/messages), as far as the translation reads or writes
// them. Request types list only fields the API knows: it refuses any other top-level field.

export interface CacheControl {
  readonly type: "ephemeral";
  readonly ttl?: string;
}

export interface TextBlock {
  type: "text";
  text: string;
  cache_control?: CacheControl;
}

/** The media types the API accepts for images; any other is refused. */
export type ImageMediaType = "image/jpeg" | "image/png" | "image/gif" | "image/webp";

export interface ImageBlock {
  type: "image";
  source: { type: "base64"; media_type: ImageMediaType; data: string } | { type: "url"; url: string };
  cache_control?: CacheControl;
}

export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface ToolResultBlock {
  type: "tool_result";
  tool_use_id: string;
  content?: (TextBlock | ImageBlock)[];
  is_error?: boolean;
}

/** Signed reasoning: the next request of a tool loop must carry it back unchanged. */
export interface ThinkingBlock {
  type: "thinking";
  thinking: string;
  signature: string;
}

/** Reasoning the API encrypted; replayed like a thinking block. */
export interface RedactedThinkingBlock {
  type: "redacted_thinking";
  data: string;
}

export type ReplayedThinking = ThinkingBlock | RedactedThinkingBlock;

export type UserBlock = TextBlock | ImageBlock | ToolResultBlock;
export type AssistantBlock = TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock;

export type MessageParam = { role: "user"; content: UserBlock[] } | { role: "assistant"; content: AssistantBlock[] };

export interface ToolDefinition {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type ToolChoice =
  | { type: "auto"; disable_parallel_tool_use?: boolean }
  | { type: "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

export interface MessagesRequest {
  model: string;
  messages: MessageParam[];
  max_tokens: number;
  system?: TextBlock[];
  metadata?: { user_id: string };
  stop_sequences?: string[];
  stream?: true;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  thinking?: Thinking;
  /** Structured outputs (the answer's text is JSON of this schema), and how much adaptive thinking to spend. */
  output_config?: { format?: { type: "json_schema"; schema: Record<string, unknown> }; effort?: Effort };
}

/** A fixed budget (Claude before 4.6), or thinking the model sizes itself, steered by an effort level (4.6 on). */
export type Thinking = { type: "enabled"; budget_tokens: number } | { type: "adaptive" };
export type Effort = "low" | "medium" | "high";

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "pause_turn" | "refusal" | "model_context_window_exceeded";

/** Token counts: `input_tokens` leaves out what was read from or written to the prompt cache. */
export interface MessagesUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** A content block of an answer; blocks of kinds the translation does not know are skipped. */
export type ResponseBlock = TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock | { type: string };

/** A non-streamed answer. */
export interface MessagesResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ResponseBlock[];
  stop_reason: StopReason | null;
  stop_sequence?: string | null;
  usage: MessagesUsage;
}

/** The thinking blocks of an answer that called tools, for the caller to keep under those calls' ids. */
export interface SignedThinking {
  /** The ids of the turn's tool calls, as the client will send them back. */
  readonly toolCallIds: readonly string[];
  readonly blocks: readonly ReplayedThinking[];
}
