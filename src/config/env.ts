/** `${NAME}`, or `${NAME:-fallback}` (the fallback is used when NAME is unset or empty, as in a shell). */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces environment references in every string of a parsed JSON value, so keys need not sit in
 * the file. Collects every variable that is missing (and has no fallback) with the place it was used.
 */
export function substituteEnv(value: unknown, env: Record<string, string | undefined>, path = "", missing: string[] = []): unknown {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      // own keys only: `${constructor}` must not find Object.prototype.constructor
      const found = Object.hasOwn(env, name) ? env[name] : undefined;
      if (found) return found;
      if (fallback !== undefined) return fallback;
      if (found === undefined) missing.push(`${path || "(root)"}: environment variable ${name} is not set`);
      return found ?? "";
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, `${path}.${i}`, missing));
  if (value !== null && typeof value === "object") {
    // fromEntries defines each key as data: assigning a `__proto__` key would set the prototype instead
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, path ? `${path}.${key}` : key, missing)]));
  }
  return value;
}
