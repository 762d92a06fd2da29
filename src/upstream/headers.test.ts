import { describe, expect, test } from "bun:test";
import { OPENWEBUI_HEADERS, userInfoForwarding, type UserInfoForwarding } from "../access/openwebui-headers";
import { downstreamResponseHeaders, isEventStream, upstreamRequestHeaders } from "./headers";

const BACKEND = "Bearer sk-backend-own-key";

/** Open WebUI's headers under its own names: kept back (the default), all forwarded, or all but the plain user ones (the user comes signed). */
const NONE = userInfoForwarding(false, false, OPENWEBUI_HEADERS);
const ALL = userInfoForwarding(true, false, OPENWEBUI_HEADERS);
const ALL_BUT_THE_USER = userInfoForwarding(true, true, OPENWEBUI_HEADERS);

const upstream = (headers: Record<string, string>, authorization: string | null = BACKEND, forwardUserInfo: UserInfoForwarding = NONE) =>
  upstreamRequestHeaders(new Headers(headers), authorization, forwardUserInfo);

describe("upstreamRequestHeaders", () => {
  test("no client credential reaches the backend, whatever header carries it; the backend gets its own key", () => {
    const sent = upstream({
      authorization: "Bearer client-key",
      "proxy-authorization": "Basic client-proxy",
      "api-key": "client-azure-key",
      "x-api-key": "client-anthropic-key",
      "x-goog-api-key": "client-google-key",
      cookie: "session=client",
      "content-type": "application/json",
    });
    expect(sent).toEqual({ authorization: BACKEND, "content-type": "application/json", "accept-encoding": "identity" });
  });

  test("a backend with no key gets no Authorization at all, not the client's", () => {
    expect(upstream({ authorization: "Bearer client-key", "api-key": "client-azure-key" }, null)).toEqual({ "accept-encoding": "identity" });
  });

  test("hop-by-hop headers, host, content-length and x-model-id stay behind; other headers pass", () => {
    const sent = upstream({
      connection: "keep-alive",
      "keep-alive": "timeout=5",
      te: "trailers",
      trailer: "x-sum",
      upgrade: "h2c",
      "proxy-connection": "keep-alive",
      host: "proxy.example",
      "content-length": "12",
      "x-model-id": "gpt",
      "openai-organization": "org-1",
      "accept-encoding": "gzip",
    });
    expect(sent).toEqual({ authorization: BACKEND, "openai-organization": "org-1", "accept-encoding": "gzip" });
  });

  test("a Connection list drops the names it lists, except those the proxy owns", () => {
    const sent = upstream({
      connection: "Content-Type , authorization, x-custom, accept-encoding, host, content-length",
      "content-type": "application/json",
      "accept-encoding": "br",
      "x-custom": "dropped",
      "x-other": "kept",
    });
    expect(sent).toEqual({ "content-type": "application/json", "accept-encoding": "br", "x-other": "kept", authorization: BACKEND });
  });

  test("Open WebUI's user headers are forwarded only when the operator opts in", () => {
    const user = { "x-openwebui-user-email": "ada@example.com", "x-openwebui-chat-id": "c-1" };
    expect(upstream(user)).toEqual({ authorization: BACKEND, "accept-encoding": "identity" });
    expect(upstream(user, BACKEND, ALL)).toEqual({ ...user, authorization: BACKEND, "accept-encoding": "identity" });
  });

  test("when the user comes signed, plain user headers are forged ones: they stay behind, the chat's own go on", () => {
    const sent = {
      "x-openwebui-user-id": "u-admin",
      "x-openwebui-user-email": "boss@example.com",
      "x-openwebui-chat-id": "c-1",
      "x-openwebui-message-id": "m-1",
    };
    expect(upstream(sent, BACKEND, ALL_BUT_THE_USER)).toEqual({
      "x-openwebui-chat-id": "c-1",
      "x-openwebui-message-id": "m-1",
      authorization: BACKEND,
      "accept-encoding": "identity",
    });
  });

  test("Open WebUI's signed user token is never forwarded, even when its user headers are", () => {
    const sent = { "x-openwebui-user-jwt": "eyJ.eyJ.sig", "x-openwebui-chat-id": "c-1" };
    expect(upstream(sent)).toEqual({ authorization: BACKEND, "accept-encoding": "identity" });
    expect(upstream(sent, BACKEND, ALL)).toEqual({ "x-openwebui-chat-id": "c-1", authorization: BACKEND, "accept-encoding": "identity" });
  });
});

describe("Open WebUI's headers renamed on its side", () => {
  const renamed = { ...OPENWEBUI_HEADERS, id: "x-user-id", email: "x-user-email", name: "x-user-name", chatId: "x-chat-id" };
  const sent = {
    "x-user-id": "u-1",
    "x-user-email": "ada@example.com",
    "x-user-name": "Ada",
    "x-chat-id": "c-1",
    "x-openwebui-message-id": "m-1",
    "x-other": "kept",
  };

  test("stay behind under their new names by default, and the ones still under Open WebUI's prefix too", () => {
    expect(upstream(sent, BACKEND, userInfoForwarding(false, false, renamed))).toEqual({
      "x-other": "kept",
      authorization: BACKEND,
      "accept-encoding": "identity",
    });
  });

  test("with the user signed, the renamed user headers stay behind and the chat's go on", () => {
    expect(upstream(sent, BACKEND, userInfoForwarding(true, true, renamed))).toEqual({
      "x-chat-id": "c-1",
      "x-openwebui-message-id": "m-1",
      "x-other": "kept",
      authorization: BACKEND,
      "accept-encoding": "identity",
    });
  });

  test("all go on when the operator forwards them", () => {
    expect(upstream(sent, BACKEND, userInfoForwarding(true, false, renamed))).toEqual({ ...sent, authorization: BACKEND, "accept-encoding": "identity" });
  });
});

describe("downstreamResponseHeaders", () => {
  test("hop-by-hop, content-length, set-cookie, CORS and address (location) headers of the backend stay behind", () => {
    const backend = new Headers({
      "content-type": "application/json",
      "content-length": "42",
      connection: "x-internal",
      "x-internal": "dropped",
      "keep-alive": "timeout=9",
      "transfer-encoding": "chunked",
      "access-control-allow-origin": "https://backend.example",
      "x-request-id": "req-1",
      "retry-after": "3",
      location: "http://10.0.0.7:8000/v1/embeddings",
      "content-location": "http://10.0.0.7:8000/v1/x",
    });
    backend.append("set-cookie", "a=1");
    backend.append("set-cookie", "b=2");
    expect(downstreamResponseHeaders(backend)).toEqual({ "content-type": "application/json", "x-request-id": "req-1", "retry-after": "3" });
  });

  test("a backend's Connection list cannot strip the body's type", () => {
    expect(downstreamResponseHeaders(new Headers({ connection: "content-type", "content-type": "text/event-stream" }))).toEqual({
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    });
  });

  test("an event stream is marked uncacheable and unbuffered, overriding the backend", () => {
    const sent = downstreamResponseHeaders(new Headers({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "max-age=60" }));
    expect(sent["cache-control"]).toBe("no-cache");
    expect(sent["x-accel-buffering"]).toBe("no");
    expect(isEventStream(sent)).toBe(true);
    expect(isEventStream({ "content-type": "application/json" })).toBe(false);
    expect(isEventStream({})).toBe(false);
  });
});
