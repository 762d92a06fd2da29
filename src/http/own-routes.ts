// Which methods the proxy's own paths (health, reload, usage, admin keys, the status page…) take:
// any other method there is the proxy's 405, never a request relayed to a backend.

/**
 * Paths of an OpenAI, Azure OpenAI or Anthropic API the proxy serves in part: their other methods are the
 * backend's API (`GET /v1/chat/completions` lists stored completions, `DELETE /v1/models/{id}`
 * deletes a fine-tuned model), so they are relayed like any other path.
 */
const API_PATHS = /^\/(?:v1\/)?(?:models|chat\/completions|messages|(?:openai\/)?deployments\/[^/]+\/chat\/completions)(?:\/|$)/;

export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/**
 * The methods a path of the proxy's own takes (from the app's route table), or null for a path it
 * relays. Runs for every relayed request: exact paths are one lookup, and only the few with a
 * parameter are patterns.
 */
export function ownRouteMethods(routes: readonly RouteEntry[]): (pathname: string) => string[] | null {
  const exact = new Map<string, Set<string>>();
  const patterns = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of routes) {
    if (path.includes("*") || API_PATHS.test(path)) continue;
    let methods: Set<string>;
    if (path.includes(":")) {
      let entry = patterns.get(path);
      if (!entry) {
        const source = path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+");
        patterns.set(path, (entry = { pattern: new RegExp(`^${source}$`), methods: new Set() }));
      }
      methods = entry.methods;
    } else {
      methods = exact.get(path) ?? new Set();
      exact.set(path, methods);
    }
    methods.add(method);
    if (method === "GET") methods.add("HEAD");
  }
  const parameterized = [...patterns.values()];
  const sorted = (methods: ReadonlySet<string>) => [...methods].sort();
  return (pathname) => {
    const path = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
    const methods = exact.get(path);
    if (methods) return sorted(methods);
    let matched: Set<string> | null = null;
    for (const { pattern, methods: taken } of parameterized) if (pattern.test(path)) matched = new Set([...(matched ?? []), ...taken]);
    return matched && sorted(matched);
  };
}
