import { describe, expect, test } from "bun:test";
import { consoleLogger, jsonLine, leveled, parseLogFormat, textLine, type LogFormat } from "./log";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A logger whose lines land in `lines`, in the format `format.now` names at each line. */
function capture(initial: LogFormat) {
  const lines: string[] = [];
  const format = { now: initial };
  const log = consoleLogger(
    (line) => lines.push(line),
    () => format.now,
  );
  return { lines, format, log };
}

describe("text lines (the default)", () => {
  test("<ISO time> <LEVEL padded to 5> <message>, one line each; fields are not printed", () => {
    const { lines, log } = capture("text");
    log.info("listening on 127.0.0.1:3333", { address: "127.0.0.1:3333" });
    log.warn("no clientKeys configured");
    log.error("it broke", { error: "boom" });
    expect(lines).toHaveLength(3);
    expect(lines.map((line) => line.slice(25))).toEqual(["INFO  listening on 127.0.0.1:3333\n", "WARN  no clientKeys configured\n", "ERROR it broke\n"]);
    for (const line of lines) expect(line.slice(0, 24)).toMatch(ISO);
  });

  test("a logger given no format writes text", () => {
    const lines: string[] = [];
    consoleLogger((line) => lines.push(line)).info("hello", { a: 1 });
    expect(lines[0]).toMatch(/^\S+Z INFO  hello\n$/);
  });

  test("textLine is exactly the text format", () => {
    expect(textLine("warn", "careful", new Date(Date.UTC(2026, 11, 7, 0, 46, 56)))).toBe("2026-12-07T00:46:56.000Z WARN  careful\n");
  });
});

describe("JSON lines", () => {
  test("one object per line: time (ISO), level (info/warn/error), msg, then the line's fields", () => {
    const { lines, log } = capture("json");
    log.info("listening", { address: "127.0.0.1:3333", models: 2 });
    log.warn("no clientKeys configured");
    log.error("reload rejected:\nline two", { file: "/etc/config.json", error: "bad" });
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line.endsWith("\n")).toBe(true);
      expect(line.slice(0, -1)).not.toContain("\n"); // a message with newlines stays one line
    }
    const [info, warn, error] = lines.map((line) => JSON.parse(line));
    expect(info).toEqual({ time: expect.stringMatching(ISO), level: "info", msg: "listening", address: "127.0.0.1:3333", models: 2 });
    expect(warn).toEqual({ time: expect.stringMatching(ISO), level: "warn", msg: "no clientKeys configured" });
    expect(error).toEqual({ time: expect.stringMatching(ISO), level: "error", msg: "reload rejected:\nline two", file: "/etc/config.json", error: "bad" });
    expect(Object.keys(info).slice(0, 3)).toEqual(["time", "level", "msg"]);
  });

  test("fields cannot replace time, level or msg; undefined fields are left out", () => {
    const line = JSON.parse(jsonLine("info", "real", { time: "fake", level: "error", msg: "fake", gone: undefined, kept: null }, new Date(0)));
    expect(line).toEqual({ time: "1970-01-01T00:00:00.000Z", level: "info", msg: "real", kept: null });
  });

  test("an Error field becomes its message, a bigint its digits; an unserializable field costs the fields, not the line", () => {
    expect(JSON.parse(jsonLine("error", "x", { error: new Error("boom"), big: 12n }))).toMatchObject({ error: "boom", big: "12" });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(JSON.parse(jsonLine("error", "still here", { circular }))).toEqual({
      time: expect.stringMatching(ISO),
      level: "error",
      msg: "still here",
      fieldsDropped: "not serializable",
    });
  });
});

describe("the format is read at every line", () => {
  test("switching the format (a config reload) switches the next line", () => {
    const { lines, format, log } = capture("text");
    log.info("before");
    format.now = "json";
    log.info("after", { file: "config.json" });
    format.now = "text";
    log.info("back");
    expect(lines[0]).toMatch(/ INFO  before\n$/);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: "info", msg: "after", file: "config.json" });
    expect(lines[2]).toMatch(/ INFO  back\n$/);
  });
});

describe("leveled", () => {
  test("drops lines below the current level and passes fields on; errors always pass", () => {
    const { lines, log } = capture("json");
    let level: "debug" | "info" | "warn" | "error" | undefined = "warn";
    const filtered = leveled(log, () => level);
    filtered.info("dropped");
    filtered.warn("kept", { file: "a" });
    filtered.error("kept too", { error: "e" });
    level = undefined; // no level: info
    filtered.info("kept at info");
    level = "error";
    filtered.warn("dropped at error");
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: "warn", msg: "kept", file: "a" }),
      expect.objectContaining({ level: "error", msg: "kept too", error: "e" }),
      expect.objectContaining({ level: "info", msg: "kept at info" }),
    ]);
  });
});

describe("parseLogFormat", () => {
  test("text or json, in any case and with blanks around; anything else is undefined", () => {
    expect(parseLogFormat("json")).toBe("json");
    expect(parseLogFormat(" JSON ")).toBe("json");
    expect(parseLogFormat("text")).toBe("text");
    for (const value of ["", "yaml", "jsonl", undefined, 1, null]) expect(parseLogFormat(value)).toBeUndefined();
  });
});
