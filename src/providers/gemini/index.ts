// Gemini's generateContent API behind OpenAI's chat completions, and batchEmbedContents behind its
// embeddings: requests translated (request.ts, embeddings.ts), answers translated back, whole
// (response.ts) or streamed (stream.ts). The key goes in `x-goog-api-key`, never in the URL.
import { ProxyError } from "../../model/errors";
import { backendAuthHeaders, type Target } from "../../model/model";
import { translatedRequestHeaders } from "../headers";
import { StreamUsage } from "../openai/stream-usage";
import { estimatedUsageOfBody, usageOfBody } from "../openai/usage";
import { includeUsage, unsupportedOperation, type AnswerTranslator, type ClientCall, type Outgoing, type ProviderAdapter, type StreamWatch } from "../provider";
import { toBatchEmbedRequest, toEmbeddingList, type GeminiEmbedding } from "./embeddings";
import { toGenerateContentRequest } from "./request";
import { toChatCompletion, toProxyError } from "./response";
import { GeminiStreamTranslator } from "./stream";
import type { GenerateContentResponse } from "./types";

const isSuccess = (status: number) => status >= 200 && status < 300;

function parsed(body: ArrayBuffer | Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new ProxyError(502, "The Gemini backend's answer is not valid JSON", "upstream_error", "bad_backend_answer");
  }
}

/** Gemini's statuses are HTTP's own: only the bodies change. */
abstract class GeminiAnswer implements AnswerTranslator {
  abstract readonly stream: StreamWatch;

  status(backendStatus: number): number {
    return backendStatus;
  }

  whole(backendStatus: number, body: ArrayBuffer | Uint8Array): string | ProxyError {
    return isSuccess(backendStatus) ? this.success(parsed(body)) : toProxyError(backendStatus, body instanceof Uint8Array ? body : new Uint8Array(body));
  }

  protected abstract success(answer: unknown): string;
}

class ChatAnswer extends GeminiAnswer {
  readonly stream: GeminiStreamTranslator;

  constructor(
    private readonly model: string,
    streamUsage: boolean,
  ) {
    super();
    this.stream = new GeminiStreamTranslator({ model, includeUsage: streamUsage });
  }

  protected success(answer: unknown): string {
    if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
      throw new ProxyError(502, "The Gemini backend's answer is not a generateContent response", "upstream_error", "bad_backend_answer");
    }
    return JSON.stringify(toChatCompletion(answer as GenerateContentResponse, { model: this.model }));
  }
}

class EmbeddingAnswer extends GeminiAnswer {
  /** Embeddings never stream: a stream would be relayed as it came. */
  readonly stream = new StreamUsage(false);

  constructor(
    private readonly model: string,
    private readonly request: GeminiEmbedding,
  ) {
    super();
  }

  protected success(answer: unknown): string {
    return JSON.stringify(toEmbeddingList(answer, this.request, { model: this.model }));
  }
}

/**
 * The adapter for `provider: "gemini"`: chat completions and embeddings; every other operation is
 * a 400 naming the provider, sent nowhere.
 */
export const gemini: ProviderAdapter = {
  outgoing(call: ClientCall, target: Target): Outgoing {
    const headers = translatedRequestHeaders(call, backendAuthHeaders(target));
    if (call.kind === "relay") {
      if (call.operation !== "embeddings" || call.method !== "POST" || !call.json) throw unsupportedOperation("gemini", target, call.operation);
      const request = toBatchEmbedRequest(call.json, { model: target.actualModelName });
      return { path: request.path, headers, body: JSON.stringify(request.body), stripUsage: false, answer: new EmbeddingAnswer(target.modelId, request) };
    }
    const request = toGenerateContentRequest(call.body, { model: target.actualModelName });
    return {
      path: request.path,
      headers,
      body: JSON.stringify(request.body),
      stripUsage: false,
      answer: new ChatAnswer(target.modelId, includeUsage(call.body)),
    };
  },
  // What is read is the translated answer, in OpenAI's shape.
  usageOfBody,
  estimateOfBody: estimatedUsageOfBody,
  streamWatch: (stripUsage) => new StreamUsage(stripUsage),
};
