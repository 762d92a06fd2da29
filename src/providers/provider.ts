// The seam between the proxy and a backend's wire format: one adapter per format.
import type { Target } from "../model/model";
import type { Usage } from "../model/usage";
import type { HeaderRecord } from "../upstream/headers";
import type { ChunkFilter } from "../upstream/relay";

type Body = RequestInit["body"];

/** What the client asked for, in its own wire format (OpenAI's), as its route read it. */
export type ClientCall = ChatCall | RelayCall;

interface CallBase {
  /** The client's request headers: its credentials are never passed on. */
  readonly headers: Headers;
  /** Forward Open WebUI's user headers (personal data) to the backend. */
  readonly forwardUserInfo: boolean;
  readonly requestId: string;
}

/** `POST /chat/completions`, its JSON body parsed and validated. */
export interface ChatCall extends CallBase {
  readonly kind: "chat";
  readonly body: Record<string, unknown> & { stream_options?: unknown };
  /** The client's query string, with its `?`, or "". */
  readonly search: string;
  /** The proxy asks a streaming backend for usage itself (the client did not), and takes that chunk out again. */
  readonly askUsage: boolean;
}

/** Any other path, relayed with the model renamed wherever the client named it. */
export interface RelayCall extends CallBase {
  readonly kind: "relay";
  /** The path below `/v1/` with its query, for the backend's model name. */
  path(actualModelName: string): string;
  /** The body for the backend's model name. */
  body(actualModelName: string): Body;
}

/** One try's backend request. */
export interface Outgoing {
  /** Below the target's prefix (`<url>/v1/`), with the query string if any. */
  readonly path: string;
  readonly headers: HeaderRecord;
  readonly body: Body;
  /** The proxy asked this backend for stream usage itself: the usage-only chunk is not the client's. */
  readonly stripUsage: boolean;
}

/** Reads an answer's token usage as its stream is relayed (and may take out what the proxy added). */
export interface StreamWatch extends ChunkFilter {
  /** The usage the stream reported, once it has ended. */
  usage(): Usage | null;
}

/**
 * Everything that knows a backend's wire format: how a client's call becomes its request, and how
 * to read the usage of its answer. It never decides retries: the proxy does, from the status.
 */
export interface ProviderAdapter {
  outgoing(call: ClientCall, target: Target): Outgoing;
  /** The usage of an answer read whole; null when it reports none. */
  usageOfBody(body: ArrayBuffer): Usage | null;
  streamWatch(stripUsage: boolean): StreamWatch;
}
