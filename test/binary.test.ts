import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chatBody, postJson } from "./support/http";
import { startMock, type MockBackend } from "./support/mock-backend";
import { BUN, CLI_ENTRY, REPO_ROOT, cleanEnv, runToExit, spawnProcess, type RunningProcess } from "./support/process";
import { ALPHA_KEY, makeTempDir, removeTempDirs, writeConfig } from "./support/proxy";

/** The Makefile's `make build` flags, so the test compiles what is shipped (falls back to plain --compile). */
function buildFlags(): string[] {
  const makefile = readFileSync(join(REPO_ROOT, "Makefile"), "utf8");
  const flags = /^BUILD_FLAGS\s*:?=\s*(.+)$/m.exec(makefile)?.[1]?.trim().split(/\s+/);
  return flags && flags.includes("--compile") ? flags : ["--compile"];
}

/** Directories that hold no Bun: the binary must not need one. */
const PATH_WITHOUT_BUN = "/usr/bin:/bin";

let buildDir: string;
let binary: string;
let build: { code: number; stdout: string; stderr: string };
let mock: MockBackend;
let proc: RunningProcess | null = null;

beforeAll(async () => {
  mock = startMock("binary");
  buildDir = makeTempDir("binary-build");
  binary = join(buildDir, "cm-open-webui-proxy");
  build = await runToExit([BUN, "build", CLI_ENTRY, ...buildFlags(), "--outfile", binary], { cwd: REPO_ROOT, env: cleanEnv() }, 170_000);
}, 180_000);

afterAll(async () => {
  await proc?.stop().catch(() => {});
  await mock.stop();
  removeTempDirs();
});

describe("the compiled binary", () => {
  test("bun build --compile succeeds", () => {
    expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(existsSync(binary)).toBe(true);
  });

  test("the test environment really has no bun on PATH", () => {
    expect(Bun.which("bun", { PATH: PATH_WITHOUT_BUN })).toBeNull();
  });

  test("runs from a directory with no node_modules and no bun on PATH, and answers /health and a proxied chat", async () => {
    const runDir = makeTempDir("binary-run");
    expect(existsSync(join(runDir, "node_modules"))).toBe(false);
    const config = writeConfig(join(runDir, "config.json"), {
      endpoints: { gpt: { displayName: "GPT (binary)", url: mock.url, apiKey: ALPHA_KEY, actualModelName: "binary-actual" } },
    });
    proc = spawnProcess([binary, "--config", config, "--port", "0", "--host", "127.0.0.1"], { cwd: runDir, env: cleanEnv({}, PATH_WITHOUT_BUN) });
    const port = await proc.listening(20_000);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", endpoints: 1, models: [{ id: "gpt", displayName: "GPT (binary)" }] });

    const chat = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("gpt"));
    expect((await chat.json()).choices[0].message.content).toBe("hello from binary");
    expect(mock.last.json().model).toBe("binary-actual");
    expect(mock.last.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);

    // the Swagger UI assets are inside the binary too
    const asset = await fetch(`http://127.0.0.1:${port}/swagger/assets/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toContain("SwaggerUIBundle");

    expect(await proc.stop()).toBe(0);
    proc = null;
  }, 30_000);

  test("--version and --check-config work from the binary", async () => {
    const runDir = makeTempDir("binary-check");
    const version = await runToExit([binary, "--version"], { cwd: runDir, env: cleanEnv({}, PATH_WITHOUT_BUN) });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const invalid = writeConfig(join(runDir, "bad.json"), { endpoints: { gpt: { url: 42 } } });
    const check = await runToExit([binary, "--check-config", "--config", invalid], { cwd: runDir, env: cleanEnv({}, PATH_WITHOUT_BUN) });
    expect(check.code).toBe(1);
    expect(check.stdout + check.stderr).toContain("endpoints.gpt.url: expected a string");
  });
});
