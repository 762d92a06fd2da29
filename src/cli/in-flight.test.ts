import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MAX_IN_FLIGHT } from "../config/in-flight-limits";
import { isCompiledEntry, maxInFlightInFile, relaunchCommand } from "./in-flight";

const dir = mkdtempSync(join(tmpdir(), "cm-owp-in-flight-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
};

describe("relaunchCommand", () => {
  test("under bun: Bun's own flags and the script path are kept", () => {
    expect(
      relaunchCommand({ execPath: "/usr/bin/bun", argv: ["/usr/bin/bun", "/app/src/cli.ts", "--port", "1"], execArgv: ["--smol"], main: "/app/src/cli.ts" }),
    ).toEqual(["/usr/bin/bun", "--smol", "/app/src/cli.ts", "--port", "1"]);
  });

  test("a compiled binary gets only the user's arguments (Bun adds its embedded entry itself)", () => {
    expect(
      relaunchCommand({
        execPath: "/usr/local/bin/proxy",
        argv: ["bun", "/$bunfs/root/proxy", "--config", "c.json"],
        execArgv: [],
        main: "/$bunfs/root/proxy",
      }),
    ).toEqual(["/usr/local/bin/proxy", "--config", "c.json"]);
    expect(isCompiledEntry("B:/~BUN/root/proxy.exe")).toBe(true);
    expect(isCompiledEntry("B:\\~BUN\\root\\proxy.exe")).toBe(true);
    expect(isCompiledEntry("/home/me/src/cli.ts")).toBe(false);
  });
});

describe("maxInFlightInFile", () => {
  const endpoints = { m: { url: "http://127.0.0.1:9" } };

  test("the configured value, else the default", () => {
    expect(maxInFlightInFile(write("set.json", { endpoints, maxInFlight: 1000 }))).toBe(1000);
    expect(maxInFlightInFile(write("unset.json", { endpoints }))).toBe(DEFAULT_MAX_IN_FLIGHT);
    expect(DEFAULT_MAX_IN_FLIGHT).toBe(4096);
  });

  test("null when the file or its maxInFlight cannot be read, so the normal start-up reports it", () => {
    expect(maxInFlightInFile(join(dir, "missing.json"))).toBeNull();
    expect(maxInFlightInFile(write("broken.json", "{ not json"))).toBeNull();
    expect(maxInFlightInFile(write("array.json", "[]"))).toBeNull();
    for (const bad of [0, 70000, 1.5, "4096", null]) expect(maxInFlightInFile(write("bad.json", { endpoints, maxInFlight: bad }))).toBeNull();
  });

  test("a file invalid elsewhere still gives its value: the program started again reports the file", () => {
    expect(maxInFlightInFile(write("invalid.json", { endpoints: { m: { url: 42 } }, maxInFlight: 64 }))).toBe(64);
    expect(maxInFlightInFile(write("env.json", { endpoints: { m: { url: "${UNSET_FOR_THIS_TEST}" } } }))).toBe(DEFAULT_MAX_IN_FLIGHT);
  });
});

/** A script that relaunches itself through the module, and reports what the relaunched one sees. */
function relaunchScript(useExecve: boolean): string {
  return write(
    `relaunch-${useExecve}.ts`,
    `import { relaunchWithLimit } from ${JSON.stringify(join(import.meta.dir, "in-flight.ts"))};
if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  console.log("first " + process.pid);
  await relaunchWithLimit(77${useExecve ? "" : ", { execve: undefined }"});
}
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => { console.log("got " + signal); if (signal === "SIGTERM") process.exit(7); });
console.log("second " + process.pid + " " + process.env.BUN_CONFIG_MAX_HTTP_REQUESTS + " " + JSON.stringify(process.argv.slice(2)));
setInterval(() => {}, 1000);
`,
  );
}

async function lines(stream: ReadableStream<Uint8Array>, until: (text: string) => boolean): Promise<string> {
  let text = "";
  const reader = stream.getReader();
  const deadline = setTimeout(() => reader.cancel(), 10_000);
  while (!until(text)) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  clearTimeout(deadline);
  reader.releaseLock();
  return text;
}

describe("relaunchWithLimit", () => {
  test("with execve: the same process (PID) runs again with the variable set and the same arguments", async () => {
    const child = Bun.spawn([process.execPath, relaunchScript(true), "--port", "5"], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe" });
    const text = await lines(child.stdout, (t) => t.includes("second"));
    expect(text).toBe(`first ${child.pid}\nsecond ${child.pid} 77 ["--port","5"]\n`);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(7);
  });

  test("without execve (Windows): a child with the variable set, signals forwarded, its exit code passed on", async () => {
    const parent = Bun.spawn([process.execPath, relaunchScript(false), "x"], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe" });
    const reader = parent.stdout;
    let text = await lines(reader, (t) => t.includes("second"));
    const [, first, second, limit, args] = /^first (\d+)\nsecond (\d+) (\S+) (\S+)\n$/.exec(text) ?? [];
    expect({ first: Number(first), limit, args }).toEqual({ first: parent.pid, limit: "77", args: '["x"]' });
    expect(Number(second)).not.toBe(parent.pid);
    parent.kill("SIGHUP");
    text = await lines(reader, (t) => t.includes("got SIGHUP"));
    expect(text).toContain("got SIGHUP");
    parent.kill("SIGTERM");
    text = await lines(reader, (t) => t.includes("got SIGTERM"));
    expect(text).toContain("got SIGTERM");
    expect(await parent.exited).toBe(7);
  });
});
