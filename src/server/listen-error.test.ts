import { describe, expect, test } from "bun:test";
import { hostPort, listenError, listenFailureReason } from "./listen-error";

describe("listenFailureReason", () => {
  test("each bind error code gets its own reason", () => {
    expect(listenFailureReason({ code: "EADDRINUSE" }, "127.0.0.1", 3333, true)).toBe("port 3333 is already in use");
    expect(listenFailureReason({ code: "EACCES" }, "0.0.0.0", 80, true)).toContain("permission denied");
    expect(listenFailureReason({ code: "EADDRNOTAVAIL" }, "8.8.8.8", 3333, true)).toBe("8.8.8.8 is not an address of this machine");
  });

  test("a host that does not resolve is the reason, whatever code Bun gave", () => {
    expect(listenFailureReason({ code: "EADDRINUSE" }, "no-such-host.invalid", 0, false)).toBe(
      "'no-such-host.invalid' is neither an IP address nor a host name that resolves",
    );
  });

  test("an unknown failure keeps its message, on one line", () => {
    expect(listenFailureReason({ code: "ENOTTY", message: "ENOTTY: inappropriate\nioctl" }, "example.com", 1, true)).toBe("ENOTTY: inappropriate ioctl");
  });
});

describe("listenError", () => {
  test("names the address, IPv6 in brackets", async () => {
    const error = await listenError(Object.assign(new Error("Is port 80 in use?"), { code: "EADDRINUSE" }), "::1", 80, async () => true);
    expect(error.message).toBe("cannot listen on [::1]:80: port 80 is already in use");
    expect(error.address).toBe("[::1]:80");
    expect(hostPort("127.0.0.1", 3333)).toBe("127.0.0.1:3333");
  });

  test("looks the host up before believing the code", async () => {
    const looked: string[] = [];
    const error = await listenError({ code: "EADDRINUSE" }, "bad..host", 0, async (host) => (looked.push(host), false));
    expect(looked).toEqual(["bad..host"]);
    expect(error.message).toContain("'bad..host' is neither an IP address");
  });
});
