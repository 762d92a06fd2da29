// Gemini's generateContent wire format (v1beta, REST/JSON), only the fields this adapter reads or
// writes. The API parses requests as protobuf JSON and refuses any field it does not know, so the
// request types list exactly what may be sent.

export interface GeminiSchema {
  type?: "STRING" | "NUMBER" | "INTEGER" | "BOOLEAN" | "ARRAY" | "OBJECT";
  format?: string;
  title?: string;
  description?: string;
  nullable?: boolean;
  enum?: string[];
  default?: unknown;
  example?: unknown;
  items?: GeminiSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  propertyOrdering?: string[];
  minProperties?: number;
  maxProperties?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: GeminiSchema[];
}

export interface FunctionCall {
  name: string;
  args?: Record<string, unknown>;
  /** Gemini's own call id: only some surfaces send one; the adapter mints its own either way. */
  id?: string;
}

export interface Part {
  text?: string;
  /** A thought summary (text) rather than answer text. */
  thought?: boolean;
  /** Opaque, base64: must come back on the same part of the replayed turn (Gemini 3 function calls). */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  functionCall?: FunctionCall;
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface Content {
  role: "user" | "model";
  parts: Part[];
}

export interface GenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  candidateCount?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  responseSchema?: GeminiSchema;
  thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean };
}

export interface FunctionDeclaration {
  name: string;
  description?: string;
  parameters?: GeminiSchema;
}

export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: { parts: { text: string }[] };
  generationConfig?: GenerationConfig;
  tools?: { functionDeclarations: FunctionDeclaration[] }[];
  toolConfig?: { functionCallingConfig: { mode: "AUTO" | "ANY" | "NONE"; allowedFunctionNames?: string[] } };
}

export interface UsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
}

export interface Candidate {
  index?: number;
  content?: { role?: string; parts?: Part[] };
  finishReason?: string;
  finishMessage?: string;
}

/** One whole answer, or one event of a `streamGenerateContent?alt=sse` stream. */
export interface GenerateContentResponse {
  candidates?: Candidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string };
  usageMetadata?: UsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

/** Gemini's error body: `{"error":{"code","message","status","details"}}`. */
export interface GeminiErrorBody {
  error?: { code?: number; message?: string; status?: string; details?: Record<string, unknown>[] };
}

// OpenAI's side, as this adapter produces it.

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string | null; reasoning_content?: string; tool_calls?: OpenAIToolCall[] };
    finish_reason: FinishReason;
  }[];
  usage?: OpenAIUsage;
}
