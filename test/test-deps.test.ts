// scripts/test-deps.sh (what `make test` runs first), in a sandbox: PATH holds only stubs, among
// them a sudo that drops the caller's environment as Debian's does, an apt-get that logs each call
// with the DEBIAN_FRONTEND it got and "installs" a package by adding its command, and an id that
// says who runs. A tool is missing when its stub is not there (Chromium is named by CHROMIUM_PATH,
// PostgreSQL's initdb is always there: the machine's own would be found anyway).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, removeTempDirs } from "./support/proxy";

const SCRIPT = join(import.meta.dir, "..", "scripts", "test-deps.sh");
const BASH = Bun.which("bash")!;
const CHMOD = Bun.which("chmod")!;
const TOOLS = ["promtool", "redis-server", "python3"] as const;

afterAll(removeTempDirs);

interface Sandbox {
  /** Commands the tests look for that are there. */
  present: readonly string[];
  uid?: number;
  aptGet?: "installs" | "installs nothing" | "absent";
  sudo?: boolean;
  /** Where CHROMIUM_PATH points: at a file that exists, or at nothing. */
  chromium?: "exists" | "absent";
}

function stub(bin: string, name: string, body = "") {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

function sandbox({ present, uid = 1000, aptGet = "installs", sudo = true, chromium = "exists" }: Sandbox) {
  const dir = makeTempDir("test-deps");
  const bin = join(dir, "bin");
  const log = join(dir, "calls.log");
  mkdirSync(bin);
  writeFileSync(log, "");
  for (const name of ["initdb", ...present]) stub(bin, name);
  for (const real of ["ls", "env"]) symlinkSync(Bun.which(real)!, join(bin, real));
  stub(bin, "id", `echo ${uid}`);
  if (sudo) stub(bin, "sudo", `echo "sudo $*" >> ${log}\nexec /usr/bin/env -i PATH="$PATH" "$@"`);
  if (aptGet !== "absent") {
    const install =
      aptGet === "installs"
        ? `[ "$1" = install ] && for p; do case $p in -*|install) ;; *) t=$p; [ $p = prometheus ] && t=promtool; : > ${bin}/$t; ${CHMOD} +x ${bin}/$t;; esac; done`
        : "";
    stub(bin, "apt-get", `echo "apt-get $* DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-unset}" >> ${log}\n${install}\nexit 0`);
  }
  const chromiumPath = join(dir, "chromium");
  if (chromium === "exists") stub(dir, "chromium");
  const run = async () => {
    const child = Bun.spawn([BASH, SCRIPT], { env: { PATH: bin, CHROMIUM_PATH: chromiumPath }, stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
    writeFileSync(log, "");
    return { code, stdout, stderr: stderr.split("\n").filter(Boolean), calls };
  };
  return { run, bin };
}

describe("scripts/test-deps.sh", () => {
  test("everything there: nothing is installed, nothing is said", async () => {
    const { run } = sandbox({ present: TOOLS });
    expect(await run()).toEqual({ code: 0, stdout: "", stderr: [], calls: [] });
  });

  test("not root: one update, then one non-interactive install of just the missing packages through sudo; a second run installs nothing", async () => {
    const { run, bin } = sandbox({ present: ["promtool"] });
    const first = await run();
    expect(first).toMatchObject({ code: 0, stderr: [] });
    expect(first.calls).toEqual([
      "sudo apt-get update -qq",
      "apt-get update -qq DEBIAN_FRONTEND=unset",
      "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server python3",
      // sudo dropped the caller's environment: the variable reached apt-get only through env.
      "apt-get install -y -qq --no-install-recommends redis-server python3 DEBIAN_FRONTEND=noninteractive",
    ]);
    expect(existsSync(join(bin, "redis-server"))).toBe(true);
    expect(await run()).toEqual({ code: 0, stdout: "", stderr: [], calls: [] });
  });

  test("Chromium is looked for where the tests look: with CHROMIUM_PATH naming nothing, an installed chromium does not count", async () => {
    const { run, bin } = sandbox({ present: TOOLS, chromium: "absent" });
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.calls.at(-1)).toBe("apt-get install -y -qq --no-install-recommends chromium DEBIAN_FRONTEND=noninteractive");
    expect(existsSync(join(bin, "chromium"))).toBe(true);
    expect(result.stderr).toEqual([
      "missing: chromium (headless browser for test/status-page.test.ts): apt-get installed it, and the tests still cannot find it",
    ]);
  });

  test("root: apt-get without sudo", async () => {
    const { run } = sandbox({ present: ["promtool", "python3"], uid: 0, sudo: false });
    const result = await run();
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      "apt-get update -qq DEBIAN_FRONTEND=unset",
      "apt-get install -y -qq --no-install-recommends redis-server DEBIAN_FRONTEND=noninteractive",
    ]);
  });

  test("installed, yet still not found: exit 1, one line per package still missing", async () => {
    const { run } = sandbox({ present: ["redis-server"], aptGet: "installs nothing" });
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.calls).toHaveLength(4);
    expect(result.stderr).toEqual([
      "missing: prometheus (promtool checks /metrics in test/metrics.test.ts): apt-get installed it, and the tests still cannot find it",
      "missing: python3 (drives the SIGTERM-at-start-up rounds and the never-accepting backend in test/hardening/): apt-get installed it, and the tests still cannot find it",
    ]);
  });

  test("no apt-get: exit 1 at once, one line per missing package naming it", async () => {
    const { run } = sandbox({ present: ["python3"], aptGet: "absent", chromium: "absent" });
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.calls).toEqual([]);
    expect(result.stderr.map((line) => line.split(" ")[1])).toEqual(["chromium", "prometheus", "redis-server"]);
    for (const line of result.stderr) expect(line).toEndWith(": no apt-get here, install it with your package manager");
  });

  test("not root and no sudo: exit 1 at once, one line per missing package", async () => {
    const { run } = sandbox({ present: ["promtool", "redis-server"], sudo: false });
    const result = await run();
    expect(result).toMatchObject({ code: 1, calls: [] });
    expect(result.stderr).toEqual([
      "missing: python3 (drives the SIGTERM-at-start-up rounds and the never-accepting backend in test/hardening/): installing it needs root, and there is no sudo",
    ]);
  });
});
