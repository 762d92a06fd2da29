// How `/debug` shows a secret: enough to tell two apart, never the whole.
//
// Backend keys keep the original proxy's rule (first 5 + `...` + last 5 above 10 characters), so
// a migrating operator recognises them. Client keys and the admin key are chosen by the operator and
// may be short, where that rule would reveal most of the key: they show at most a quarter of it
// (first and last ⌊length/8⌋ characters), and nothing below 16 characters.

const HIDDEN = "***";

const ends = (secret: string, shown: number) => `${secret.slice(0, shown)}...${secret.slice(-shown)}`;

export function maskBackendKey(key: string): string {
  return key.length > 10 ? ends(key, 5) : HIDDEN;
}

export function maskAccessKey(key: string): string {
  return key.length >= 16 ? ends(key, Math.floor(key.length / 8)) : HIDDEN;
}

/**
 * `https://user:pass@host/` → `https://***@host/`: credentials in a backend URL are secrets too. Up
 * to the last `@` before the path: a password may hold a raw `@`, which URL parsers accept.
 */
export function maskUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${HIDDEN}@`);
}
