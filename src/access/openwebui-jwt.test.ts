import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { openWebUIClaims, signToken } from "../../test/support/openwebui-jwt";
import { CLOCK_SKEW_SECONDS, UserTokenVerifier } from "./openwebui-jwt";

const SECRET = "open-webui-forward-secret-0123456789abcdef";
const NOW = 1_800_000_000;
const verifier = new UserTokenVerifier(SECRET);
const claims = (extra: Record<string, unknown> = {}) => ({ ...openWebUIClaims({ id: "u-1", email: "ann@example.com", name: "Änn Ö" }, NOW), ...extra });
const verify = (token: string, now = NOW) => verifier.verify(token, now);
const ANN = { id: "u-1", email: "ann@example.com", name: "Änn Ö" };

describe("UserTokenVerifier", () => {
  test("a token Open WebUI signed with the shared secret names its user", () => {
    expect(verify(signToken(claims(), SECRET))).toEqual(ANN);
  });

  test("a token as PyJWT writes it, byte for byte, verifies", () => {
    // PyJWT's separators: no spaces; its header: alg then typ.
    const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");
    const payload = Buffer.from(
      `{"sub":"u-1","email":"ann@example.com","name":"Ann","role":"user","iss":"open-webui","iat":${NOW},"exp":${NOW + 300}}`,
    ).toString("base64url");
    const signature = createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url");
    expect(verify(`${header}.${payload}.${signature}`)).toEqual({ id: "u-1", email: "ann@example.com", name: "Ann" });
  });

  test("exp: honoured up to the clock skew past it, refused from then on, and required", () => {
    const token = signToken(claims({ exp: NOW }), SECRET);
    expect(verify(token, NOW - 1)).toEqual(ANN);
    expect(verify(token, NOW + CLOCK_SKEW_SECONDS - 1)).toEqual(ANN);
    expect(verify(token, NOW + CLOCK_SKEW_SECONDS)).toBeNull();
    expect(verify(token, NOW + 3600)).toBeNull();
    const { exp: _, ...withoutExp } = claims();
    expect(verify(signToken(withoutExp, SECRET))).toBeNull();
    expect(verify(signToken(claims({ exp: String(NOW + 300) }), SECRET))).toBeNull();
  });

  test("nbf and iat in the future beyond the skew are refused; within it, accepted", () => {
    expect(verify(signToken(claims({ nbf: NOW + CLOCK_SKEW_SECONDS }), SECRET))).toEqual(ANN);
    expect(verify(signToken(claims({ nbf: NOW + CLOCK_SKEW_SECONDS + 1 }), SECRET))).toBeNull();
    expect(verify(signToken(claims({ iat: NOW + CLOCK_SKEW_SECONDS }), SECRET))).toEqual(ANN);
    expect(verify(signToken(claims({ iat: NOW + CLOCK_SKEW_SECONDS + 1 }), SECRET))).toBeNull();
    expect(verify(signToken(claims({ iat: "now" }), SECRET))).toBeNull();
  });

  test("a token signed with another secret, or changed after signing, is refused", () => {
    expect(verify(signToken(claims(), `${SECRET}x`))).toBeNull();
    const [header, , signature] = signToken(claims(), SECRET).split(".");
    const forged = Buffer.from(JSON.stringify(claims({ sub: "admin" }))).toString("base64url");
    expect(verify(`${header}.${forged}.${signature}`)).toBeNull();
  });

  test("only HS256: none, HS512 and RS256 headers are refused, even over a valid HMAC-SHA256", () => {
    for (const alg of ["none", "None", "HS512", "RS256", "hs256"]) {
      expect({ alg, user: verify(signToken(claims(), SECRET, { alg, typ: "JWT" })) }).toEqual({ alg, user: null });
    }
    expect(verify(signToken(claims(), SECRET, { typ: "JWT" }))).toBeNull();
    expect(verify(signToken(claims(), SECRET, { alg: "HS256", crit: ["b64"], b64: false }))).toBeNull();
    // alg none with an empty signature, as the classic attack sends it.
    const [header, payload] = signToken(claims(), SECRET, { alg: "none", typ: "JWT" }).split(".");
    expect(verify(`${header}.${payload}.`)).toBeNull();
  });

  test("iss must be open-webui", () => {
    expect(verify(signToken(claims({ iss: "someone-else" }), SECRET))).toBeNull();
    const { iss: _, ...withoutIss } = claims();
    expect(verify(signToken(withoutIss, SECRET))).toBeNull();
  });

  test("sub names the user; without it there is none; email and name are optional", () => {
    expect(verify(signToken(claims({ sub: "" }), SECRET))).toBeNull();
    expect(verify(signToken(claims({ sub: 42 }), SECRET))).toBeNull();
    expect(verify(signToken(claims({ email: null, name: 7 }), SECRET))).toEqual({ id: "u-1", email: null, name: null });
  });

  test("malformed tokens are refused, never thrown on", () => {
    const valid = signToken(claims(), SECRET);
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const sign = (h: string, p: string) => `${h}.${p}.${createHmac("sha256", SECRET).update(`${h}.${p}`).digest("base64url")}`;
    const cases = [
      "",
      "abc",
      `${header}.${payload}`,
      `${valid}.extra`,
      `${header}.${payload}.${signature}=`,
      `${header}.${payload}.${signature.slice(0, -1)}`,
      `${header}.${payload}+.${signature}`,
      `${header}.${payload}.${signature.slice(0, -1)}!`,
      sign(header, Buffer.from("not json").toString("base64url")),
      sign(header, Buffer.from("[1,2]").toString("base64url")),
      sign(header, Buffer.from("null").toString("base64url")),
      sign(Buffer.from("{").toString("base64url"), payload),
      `${header}.${"A".repeat(9000)}.${signature}`,
    ];
    for (const token of cases) expect({ token, user: verify(token) }).toEqual({ token, user: null });
  });
});
