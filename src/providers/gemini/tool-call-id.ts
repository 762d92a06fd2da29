// Tool-call ids for Gemini's function calls. Gemini sends no ids, and Gemini 3 attaches a
// `thoughtSignature` to a call that must come back on that call in the next request. OpenAI
// clients drop fields they do not know but always echo `tool_calls[].id`, so the signature rides
// inside the id: stateless, and valid on any proxy instance the next turn lands on.
//
// Format: `call_<24 alphanumerics>` alone, or followed by `__ts_<signature as base64url>`. Only
// `[A-Za-z0-9_-]` is used, so the ids also pass Anthropic's tool-id pattern.

const NONCE_LENGTH = 24;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SIGNED = /^call_[A-Za-z0-9]+__ts_([A-Za-z0-9_-]+)$/;

/** A fresh random nonce for an id (tests pass their own to get stable ids). */
export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
  let nonce = "";
  for (const byte of bytes) nonce += ALPHABET[byte % ALPHABET.length];
  return nonce;
}

/** An id for one function call, carrying its signature when it has one. */
export function toolCallId(signature: string | undefined, nonce: string = randomNonce()): string {
  if (!signature) return `call_${nonce}`;
  // Gemini writes protobuf bytes as standard base64; base64url keeps the id to [A-Za-z0-9_-].
  const encoded = signature.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `call_${nonce}__ts_${encoded}`;
}

/** The signature carried by an id this module made; undefined for any other id. */
export function signatureOf(id: string): string | undefined {
  const encoded = SIGNED.exec(id)?.[1];
  if (!encoded) return undefined;
  const base64 = encoded.replace(/-/g, "+").replace(/_/g, "/");
  return base64 + "=".repeat((4 - (base64.length % 4)) % 4);
}
