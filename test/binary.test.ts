import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBinary } from "./support/binary";
import { chatBody, postJson } from "./support/http";
import { startMock, type MockBackend } from "./support/mock-backend";
import { REPO_ROOT, cleanEnv, pathWithout, runToExit, spawnProcess, type RunningProcess } from "./support/process";
import { ALPHA_KEY, makeTempDir, removeTempDirs, writeConfig } from "./support/proxy";

const BUN_NAMES = ["bun", "bunx"];

/** This machine's PATH with Bun taken out, wherever it is installed: the binary must not need it. */
let PATH_WITHOUT_BUN: string;
let buildDir: string;
let binary: string;
let build: { code: number; stdout: string; stderr: string };
let mock: MockBackend;
let proc: RunningProcess | null = null;

beforeAll(async () => {
  PATH_WITHOUT_BUN = pathWithout(BUN_NAMES, process.env.PATH ?? "", makeTempDir("no-bun-path"));
  mock = startMock("binary");
  buildDir = makeTempDir("binary-build");
  binary = join(buildDir, "cm-open-webui-proxy");
  build = await buildBinary(binary);
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

  test("pathWithout drops Bun from whichever PATH directory holds it, and keeps every other tool", () => {
    const scratch = makeTempDir("path-check");
    const tool = (dir: string, name: string) => {
      writeFileSync(join(dir, name), "#!/bin/sh\n");
      chmodSync(join(dir, name), 0o755);
    };
    const [withBun, plain] = [makeTempDir("path-with-bun"), makeTempDir("path-plain")]; // like /usr/bin after `npm i -g bun`
    for (const name of ["bun", "bunx", "sh-like"]) tool(withBun, name);
    tool(plain, "other");
    const path = `${withBun}:${plain}:${join(scratch, "missing")}`;
    expect(Bun.which("bun", { PATH: path })).toBe(join(withBun, "bun"));

    const stripped = pathWithout(BUN_NAMES, path, scratch);
    expect(Bun.which("bun", { PATH: stripped })).toBeNull();
    expect(Bun.which("bunx", { PATH: stripped })).toBeNull();
    expect(Bun.which("sh-like", { PATH: stripped })).not.toBeNull();
    expect(Bun.which("other", { PATH: stripped })).toBe(join(plain, "other"));
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
    expect(await health.json()).toMatchObject({ status: "ok", endpoints: 1, models: [{ id: "gpt", displayName: "GPT (binary)" }] });

    const chat = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("gpt"));
    expect((await chat.json()).choices[0].message.content).toBe("hello from binary");
    expect(mock.last.json().model).toBe("binary-actual");
    expect(mock.last.headers.get("authorization")).toBe(`Bearer ${ALPHA_KEY}`);

    // /usage runs its query on a worker thread, whose code is inside the binary too
    const usage = await fetch(`http://127.0.0.1:${port}/usage?groupBy=model`);
    expect(usage.status).toBe(200);
    expect((await usage.json()).groups).toEqual([expect.objectContaining({ key: "gpt", requests: 1, errors: 0 })]);

    // the Swagger UI assets are inside the binary too
    const asset = await fetch(`http://127.0.0.1:${port}/swagger/assets/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toContain("SwaggerUIBundle");

    expect(await proc.stop()).toBe(0);
    proc = null;
  }, 30_000);

  test("--init in an empty folder writes the example embedded in the binary, and the binary accepts it", async () => {
    const runDir = makeTempDir("binary-init");
    const env = cleanEnv({}, PATH_WITHOUT_BUN);
    const missing = await runToExit([binary, "--port", "0", "--host", "127.0.0.1"], { cwd: runDir, env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("config.json: file not found (run with --init");

    const init = await runToExit([binary, "--init"], { cwd: runDir, env });
    expect(init.code).toBe(0);
    expect(readFileSync(join(runDir, "config.json"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "config.example.json"), "utf8"));
    const check = await runToExit([binary, "--check-config"], { cwd: runDir, env });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`${join(runDir, "config.json")}: valid`);
  });

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
