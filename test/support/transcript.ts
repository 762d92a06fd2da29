// The secret check of the hardening suite. Recorded here: every response a hardening test receives
// (status, headers, body; raw TCP answers too), and every log line of every in-process proxy and
// all output of every spawned proxy in the suite (test/support's logger and process helpers record
// them). Every secret a test configures is registered. Bun runs all test files in one process, so
// each file's final test scans everything recorded so far for every secret registered so far: the
// file that runs last has checked the whole suite.
import { expect } from "bun:test";

interface Entry {
  readonly label: string;
  text: string;
}

const entries: Entry[] = [];
const secrets = new Map<string, string>(); // secret -> what it is

/** Registers a configured secret (backend apiKey, client key, admin key) the proxy must never reveal. */
export function registerSecret(secret: string, what: string): string {
  if (secret.length < 16) throw new Error(`test secrets must be long enough to tell masking from leaking: ${what}`);
  secrets.set(secret, what);
  return secret;
}

/** Records any text the proxy produced (a log line, a raw answer, a spawned process's stderr). */
export function recordText(label: string, text: string): Entry {
  const entry = { label, text };
  entries.push(entry);
  return entry;
}

function headerText(headers: Headers): string {
  let text = "";
  for (const [name, value] of headers) text += `${name}: ${value}\n`;
  return text;
}

/** A Response whose json() is typed loosely, as tests read it. */
export interface TestResponse extends Response {
  json(): Promise<any>;
}

/**
 * Records a response as it is read: returns an equivalent Response whose body is copied into the
 * transcript chunk by chunk (so streams, cancelled streams and aborted reads are all recorded).
 */
export function recorded(label: string, response: Response): TestResponse {
  const entry = recordText(label, `${response.status} ${response.statusText}\n${headerText(response.headers)}\n`);
  if (!response.body) return response as TestResponse;
  const decoder = new TextDecoder();
  const copy = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      entry.text += decoder.decode(chunk, { stream: true });
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(copy), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  }) as TestResponse;
}

/** `fetch` that records what comes back. */
export async function rfetch(url: string, init?: RequestInit): Promise<TestResponse> {
  const response = await fetch(url, init);
  return recorded(`${init?.method ?? "GET"} ${url}`, response);
}

/** The part of a secret that masking (first 5 + "..." + last 5) hides: it must never be seen. */
function hiddenPart(secret: string): string {
  return secret.length > 10 ? secret.slice(5, -5) : secret;
}

export function transcriptSize(): { entries: number; chars: number; secrets: number } {
  return { entries: entries.length, chars: entries.reduce((n, e) => n + e.text.length, 0), secrets: secrets.size };
}

/** Every place a registered secret (or the part of it masking hides) appears in the transcript. */
export function secretLeaks(): string[] {
  const leaks: string[] = [];
  for (const [secret, what] of secrets) {
    const hidden = hiddenPart(secret);
    for (const entry of entries) {
      if (entry.text.includes(secret)) leaks.push(`${what} in full in ${entry.label}`);
      else if (entry.text.includes(hidden)) leaks.push(`${what} (its masked middle) in ${entry.label}`);
    }
  }
  return leaks;
}

export function expectNoSecretLeaks(minimumEntries = 1): void {
  const size = transcriptSize();
  expect(size.entries).toBeGreaterThanOrEqual(minimumEntries);
  expect(size.secrets).toBeGreaterThan(0);
  expect(secretLeaks()).toEqual([]);
}
