// `--probe [url]`: a health check for images with no curl (distroless, scratch). GETs the URL and
// says whether it answered 2xx within the timeout: exit 0, or exit 1 with one line on why.

export const PROBE_TIMEOUT_MS = 3000;

export interface ProbeResult {
  readonly ok: boolean;
  /** One line: the status, or why there was none. */
  readonly message: string;
}

/** The default target: this proxy's /ready on the loopback interface. */
export const defaultProbeUrl = (port: number) => `http://127.0.0.1:${port}/ready`;

function reason(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  if (err?.code === "ConnectionRefused" || err?.code === "ECONNREFUSED") return "connection refused";
  return err?.code ? `${err.code}${err.message ? `: ${err.message}` : ""}` : String(err?.message ?? error);
}

export async function probe(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, message: `${url}: not a URL` };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { ok: false, message: `${url}: expected an http:// or https:// URL` };
  try {
    const response = await fetch(parsed, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer().catch(() => {});
    const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    return response.status >= 200 && response.status < 300 ? { ok: true, message: `${url}: ${status}` } : { ok: false, message: `${url}: answered ${status}` };
  } catch (error) {
    return { ok: false, message: `${url}: ${reason(error, timeoutMs)}` };
  }
}
