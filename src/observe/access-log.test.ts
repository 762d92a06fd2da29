import { describe, expect, test } from "bun:test";
import { accessEntry, accessLog } from "./access-log";
import { RequestRecord } from "./record";

function finished(path: string, change: (record: RequestRecord) => void = () => {}): RequestRecord {
  const record = new RequestRecord("req-1", "POST", path, () => {});
  change(record);
  record.end(200);
  return record;
}

const lineOf = (record: RequestRecord, format: "json" | "text" = "json") => {
  let line = "";
  accessLog(
    () => ({ format }),
    (text) => (line = text),
    format,
  )(record);
  return line;
};

describe("the JSON access line", () => {
  test("is exactly what JSON.stringify makes of the entry, with time, level and msg first", () => {
    const records = [
      finished("/v1/models"),
      finished('/v1/chat/"quoted"\\path\u2028', (record) => {
        record.modelRequested = 'model "with" quotes';
        record.servedModel = "served";
        record.servedTarget = "t#0";
        record.tries.push({ model: "m", target: "t#0", status: 200, failure: null });
        record.ttfbMs = 12.345;
        record.usage = { promptTokens: 3, completionTokens: 4, totalTokens: 7 };
        record.costUsd = 0.00012345;
        record.clientName = "alice\nbob";
        record.user = { id: null, email: "a@example.com", name: null };
        record.bytesOut = 600;
      }),
      finished("/v1/embeddings", (record) => {
        record.usage = { promptTokens: 1, completionTokens: 0, totalTokens: 1 };
        record.costUsd = 1.5e-7; // a number JavaScript writes with an exponent: still JSON
      }),
    ];
    for (const record of records) {
      const { time, ...fields } = accessEntry(record);
      const expected = `${JSON.stringify({ time, level: "info", msg: `${record.method} ${record.path} ${record.status}`, ...fields })}\n`;
      expect(lineOf(record)).toBe(expected);
      expect(JSON.parse(lineOf(record)).path).toBe(record.path);
    }
  });
});

describe("the text access line", () => {
  const textOf = (record: RequestRecord) => lineOf(record, "text");

  test("a client-chosen value with control characters is quoted and escaped: nothing reaches the terminal raw", () => {
    const line = textOf(
      finished("/v1/chat/completions", (record) => {
        record.modelRequested = "\u001b[2J\u0007x\u007f\u009b";
      }),
    );
    expect(line).toContain('model="\\u001b[2J\\u0007x\\u007f\\u009b"');
    expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  test("a cost no number can hold is written as none, in both formats", () => {
    const record = finished("/v1/chat/completions", (record) => {
      record.costUsd = Number.POSITIVE_INFINITY;
    });
    expect(JSON.parse(lineOf(record)).costUsd).toBeNull();
    expect(textOf(record)).toContain("costUsd=-");
  });
});
