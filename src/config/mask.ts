/** Shows enough of a key to tell two apart, never the whole: first 5 + `...` + last 5, or `***`. */
export function maskSecret(secret: string): string {
  return secret.length > 10 ? `${secret.slice(0, 5)}...${secret.slice(-5)}` : "***";
}

/** `https://user:pass@host/` → `https://***@host/`: credentials in a backend URL are secrets too. */
export function maskUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1***@");
}
