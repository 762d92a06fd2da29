// A backend that refuses its key may quote it in the error (some OpenAI-compatible servers echo
// the whole key they were sent): the proxy's own credential must not reach the client that way.
import { maskBackendKey } from "../config/mask";
import { decodedBody } from "./content-encoding";

const encoder = new TextEncoder();

/** Shorter keys are words an error may hold for other reasons; they are left alone. */
const MIN_REDACTED_LENGTH = 8;

/** The key a target's error answers are cleaned of; null when it has none worth looking for. */
export const secretOf = (apiKey: string | null | undefined): string | null => (apiKey && apiKey.length >= MIN_REDACTED_LENGTH ? apiKey : null);

/**
 * `body` with every occurrence of `secret` replaced by its mask (decoded first when the backend
 * compressed it, so the cleaned copy is plain); null when the body does not hold it.
 */
export function withoutSecret(body: Uint8Array, contentEncoding: string | null, secret: string): Uint8Array<ArrayBuffer> | null {
  const plain = contentEncoding ? decodedBody(body, contentEncoding) : body;
  if (!plain) return null;
  const bytes = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  // As written, or with its slashes escaped the way some JSON encoders write them.
  const forms = secret.includes("/") ? [secret, secret.replaceAll("/", "\\/")] : [secret];
  if (!forms.some((form) => bytes.indexOf(form) !== -1)) return null;
  let text = bytes.toString("utf8");
  for (const form of forms) text = text.replaceAll(form, maskBackendKey(secret));
  // A copy of its own (a Buffer made from a string may share a pooled block with others).
  return encoder.encode(text);
}
