import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_CONFIG, writeExampleConfig } from "./init-config";

const dir = mkdtempSync(join(tmpdir(), "cm-owp-init-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeExampleConfig", () => {
  test("the embedded example is config.example.json, byte for byte", () => {
    expect(EXAMPLE_CONFIG).toBe(readFileSync(join(import.meta.dir, "..", "..", "config.example.json"), "utf8"));
  });

  test("writes the example to a new file", () => {
    const path = join(dir, "config.json");
    writeExampleConfig(path);
    expect(readFileSync(path, "utf8")).toBe(EXAMPLE_CONFIG);
  });

  test("never overwrites an existing file", () => {
    const path = join(dir, "mine.json");
    writeFileSync(path, "{}");
    expect(() => writeExampleConfig(path)).toThrow(`${path} already exists and was left unchanged`);
    expect(readFileSync(path, "utf8")).toBe("{}");
  });

  test("a missing folder is one line naming the file", () => {
    const path = join(dir, "no-such-folder", "config.json");
    expect(() => writeExampleConfig(path)).toThrow(`${path}: its folder does not exist`);
  });
});
