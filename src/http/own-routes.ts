// Which methods the proxy's own paths (health, reload, usage, admin keys, the status page…) take:
// any other method there is the proxy's 405, never a request relayed to a backend.

/**
 * Paths of an OpenAI or Anthropic API the proxy serves in part: their other methods are the
 * backend's API (`GET /v1/chat/completions` lists stored completions, `DELETE /v1/models/{id}`
 * deletes a fine-tuned model), so they are relayed like any other path.
 */
const API_PATHS = /^\/(?:v1\/)?(?:models|chat\/completions|messages)(?:\/|$)/;

export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/** The methods a path of the proxy's own takes (from the app's route table), or null for a path it relays. */
export function ownRouteMethods(routes: readonly RouteEntry[]): (pathname: string) => string[] | null {
  const byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of routes) {
    if (path.includes("*") || API_PATHS.test(path)) continue;
    let entry = byPattern.get(path);
    if (!entry) {
      const source = path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+");
      byPattern.set(path, (entry = { pattern: new RegExp(`^${source}/?$`), methods: new Set() }));
    }
    entry.methods.add(method);
    if (method === "GET") entry.methods.add("HEAD");
  }
  const entries = [...byPattern.values()];
  return (pathname) => {
    const methods = new Set<string>();
    for (const { pattern, methods: taken } of entries) if (pattern.test(pathname)) for (const method of taken) methods.add(method);
    return methods.size > 0 ? [...methods].sort() : null;
  };
}
