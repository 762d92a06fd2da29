// Tokens as Open WebUI signs them (PyJWT, HS256: header {"alg":"HS256","typ":"JWT"}), written with
// node:crypto's HMAC and Buffer's base64url so the tests do not share code with the verifier.
import { createHmac } from "node:crypto";

const segment = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT of `header` and `claims`, signed with HMAC-SHA256 under `secret` whatever `header.alg` says. */
export function signToken(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: "HS256", typ: "JWT" }): string {
  const signed = `${segment(header)}.${segment(claims)}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

/** Open WebUI's claims for a user, valid from now for `lifetimeSeconds` (its default: 300). */
export function openWebUIClaims(
  user: { id: string; email?: string; name?: string; role?: string },
  nowSeconds = Math.floor(Date.now() / 1000),
  lifetimeSeconds = 300,
) {
  return {
    sub: user.id,
    email: user.email ?? `${user.id}@example.com`,
    name: user.name ?? user.id,
    role: user.role ?? "user",
    iss: "open-webui",
    iat: nowSeconds,
    exp: nowSeconds + lifetimeSeconds,
  };
}
