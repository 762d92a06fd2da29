// Open WebUI's signed user: with FORWARD_USER_INFO_HEADER_JWT_SECRET set on its side, Open WebUI
// sends the user as one HS256 JWT in `X-OpenWebUI-User-Jwt` instead of plain headers anyone holding
// the connection key could forge. Only what this proxy needs of RFC 7519 is checked, strictly: one
// algorithm (so neither `none` nor a public-key algorithm can stand in for the shared secret), the
// issuer, and the token's lifetime, with a little clock skew allowed between the two machines.
import { timingSafeEqual } from "node:crypto";

/** The header Open WebUI puts the token in (lower case, as `Headers` gives it). */
export const USER_JWT_HEADER = "x-openwebui-user-jwt";

/** The `iss` Open WebUI signs with. */
const ISSUER = "open-webui";

/** How far the two clocks may disagree: a token is still taken this long after its `exp`. */
export const CLOCK_SKEW_SECONDS = 30;

/** Open WebUI's tokens are a few hundred characters; anything this long is not one of them. */
const MAX_TOKEN_CHARS = 8192;

/** HMAC-SHA256 is 32 bytes: 43 base64url characters, unpadded. */
const SIGNATURE_CHARS = 43;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The user a valid token names: `sub` (Open WebUI's user id), `email` and `name`. */
export interface SignedUser {
  readonly id: string;
  readonly email: string | null;
  readonly name: string | null;
}

type Json = Record<string, unknown>;

/** A base64url segment's JSON object, or null for anything else. */
function jsonObject(segment: string): Json | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

const optionalText = (value: unknown) => (typeof value === "string" && value !== "" ? value : null);

/** A NumericDate claim: absent is fine (undefined), anything but a finite number is not (null). */
function numericDate(claims: Json, name: string): number | undefined | null {
  const value = claims[name];
  if (value === undefined) return undefined;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Checks tokens against one shared secret. The HMAC key is set up once, when the config is built;
 * each request copies that keyed state and hashes one short string.
 */
export class UserTokenVerifier {
  readonly #keyed: Bun.CryptoHasher;

  constructor(secret: string) {
    this.#keyed = new Bun.CryptoHasher("sha256", secret);
  }

  /** The user of a valid token, or null for a token that is malformed, forged, expired or not Open WebUI's. */
  verify(token: string, nowSeconds: number = Date.now() / 1000): SignedUser | null {
    if (token.length > MAX_TOKEN_CHARS) return null;
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const [header, payload, signature] = parts as [string, string, string];
    if (!BASE64URL.test(header) || !BASE64URL.test(payload) || signature.length !== SIGNATURE_CHARS || !BASE64URL.test(signature)) return null;

    // The signature first: nothing an unsigned token says is read beyond its shape.
    const expected = this.#keyed.copy().update(`${header}.${payload}`).digest("base64url");
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return null;

    const head = jsonObject(header);
    // `crit` names extensions the verifier must understand; this one understands none.
    if (head === null || head.alg !== "HS256" || head.crit !== undefined) return null;
    const claims = jsonObject(payload);
    if (claims === null || claims.iss !== ISSUER) return null;

    const exp = numericDate(claims, "exp");
    const nbf = numericDate(claims, "nbf");
    const iat = numericDate(claims, "iat");
    if (exp === undefined || exp === null || nbf === null || iat === null) return null;
    if (nowSeconds >= exp + CLOCK_SKEW_SECONDS) return null;
    if (nbf !== undefined && nbf > nowSeconds + CLOCK_SKEW_SECONDS) return null;
    if (iat !== undefined && iat > nowSeconds + CLOCK_SKEW_SECONDS) return null;

    const id = optionalText(claims.sub);
    if (id === null) return null;
    return { id, email: optionalText(claims.email), name: optionalText(claims.name) };
  }
}
