// Model-id patterns as operators write them in `include`/`exclude` and `clientKeys[].models`:
// `*` matches any run of characters (`/` included), `?` one character; anything else is literal.

export const isGlob = (pattern: string) => /[*?]/.test(pattern);

export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "s");
}

/** A list of ids and globs, compiled once: exact ids by lookup, globs by their expressions. */
export class IdMatcher {
  private readonly exact: ReadonlySet<string>;
  private readonly globs: readonly RegExp[];

  constructor(readonly patterns: readonly string[]) {
    this.exact = new Set(patterns.filter((pattern) => !isGlob(pattern)));
    this.globs = patterns.filter(isGlob).map(globToRegExp);
  }

  matches(id: string): boolean {
    return this.exact.has(id) || this.globs.some((glob) => glob.test(id));
  }
}
