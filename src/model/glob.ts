// Model-id patterns as operators write them in `include`/`exclude` and `clientKeys[].models`:
// `*` matches any run of characters (`/` included), `?` one character; anything else is literal.

export const isGlob = (pattern: string) => /[*?]/.test(pattern);

/**
 * Whether `id` matches the glob `pattern`. A model id comes from the client, so this runs in time
 * linear in its length (for a given pattern): a regular expression of several `.*` backtracks, and a
 * long id would hold the event loop for seconds.
 */
export function globMatches(pattern: string, id: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1; // the pattern position after the last `*` seen
  let resume = 0; // where in the id that `*` would take one more character from
  while (i < id.length) {
    if (p < pattern.length && (pattern[p] === "?" || (pattern[p] !== "*" && pattern[p] === id[i]))) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = ++p;
      resume = i;
    } else if (star !== -1) {
      p = star;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** A list of ids and globs: exact ids by lookup, globs one by one. */
export class IdMatcher {
  private readonly exact: ReadonlySet<string>;
  private readonly globs: readonly string[];

  constructor(readonly patterns: readonly string[]) {
    this.exact = new Set(patterns.filter((pattern) => !isGlob(pattern)));
    this.globs = patterns.filter(isGlob);
  }

  matches(id: string): boolean {
    return this.exact.has(id) || this.globs.some((glob) => globMatches(glob, id));
  }
}
