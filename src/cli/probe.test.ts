import { afterAll, describe, expect, test } from "bun:test";
import { defaultProbeUrl, probe } from "./probe";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/ok") return new Response("fine");
    if (path === "/no-content") return new Response(null, { status: 204 });
    if (path === "/moved") return Response.redirect("/ok", 302);
    if (path === "/slow") return new Promise<Response>(() => {}); // never answers
    return new Response("no", { status: 503, statusText: "Service Unavailable" });
  },
});
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop(true));

describe("probe", () => {
  test("a 2xx is healthy", async () => {
    expect(await probe(`${base}/ok`)).toEqual({ ok: true, message: `${base}/ok: 200 OK` });
    expect((await probe(`${base}/no-content`)).ok).toBe(true);
  });

  test("anything else is not, with the reason in one line", async () => {
    expect(await probe(`${base}/ready`)).toEqual({ ok: false, message: `${base}/ready: answered 503 Service Unavailable` });
    expect(await probe(`${base}/moved`)).toMatchObject({ ok: false, message: expect.stringContaining("answered 302") }); // not followed
    expect(await probe(`${base}/slow`, 200)).toEqual({ ok: false, message: `${base}/slow: no answer within 200 ms` });
    expect(await probe("not a url")).toEqual({ ok: false, message: "not a url: not a URL" });
    expect(await probe("ftp://127.0.0.1/")).toMatchObject({ ok: false, message: expect.stringContaining("expected an http://") });
  });

  test("a closed port is refused", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    expect(await probe(`http://127.0.0.1:${port}/ready`)).toEqual({ ok: false, message: `http://127.0.0.1:${port}/ready: connection refused` });
  });

  test("the default target is /ready on the loopback interface", () => {
    expect(defaultProbeUrl(3333)).toBe("http://127.0.0.1:3333/ready");
  });
});
