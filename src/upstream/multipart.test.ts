import { describe, expect, test } from "bun:test";
import { boundaryOf, findMultipartField } from "./multipart";

describe("boundaryOf", () => {
  const CASES: [string, string | null][] = [
    ["multipart/form-data; boundary=----abc123", "----abc123"],
    ['multipart/form-data; boundary="a b:c=d"', "a b:c=d"],
    ["multipart/form-data; boundary=xyz; charset=utf-8", "xyz"],
    ["multipart/form-data; charset=utf-8; BOUNDARY=xyz", "xyz"],
    ["multipart/form-data", null],
  ];
  for (const [contentType, boundary] of CASES) {
    test(`${contentType} → ${boundary}`, () => expect(boundaryOf(contentType)).toBe(boundary));
  }
});

const encoder = new TextEncoder();
/** Every byte value, CR and LF included, so any decoding or re-encoding shows. */
const FILE = Uint8Array.from({ length: 256 }, (_, i) => i);

const textPart = (boundary: string, name: string, value: string, header = "Content-Disposition: form-data") =>
  encoder.encode(`--${boundary}\r\n${header}; name="${name}"\r\n\r\n${value}\r\n`);

const filePart = (boundary: string) => [
  encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
  FILE,
  encoder.encode("\r\n"),
];

const closing = (boundary: string) => encoder.encode(`--${boundary}--\r\n`);

const bytes = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("findMultipartField", () => {
  test("replaces only the field's value; every other byte, the file's included, is kept", () => {
    const b = "----cmOwpBoundary";
    const head = [...filePart(b), textPart(b, "language", "de")];
    const tail = [textPart(b, "prompt", "Hello"), closing(b)];
    const body = bytes([...head, textPart(b, "model", "whisper"), ...tail]);
    const field = findMultipartField(body, b, "model");
    expect(field?.value).toBe("whisper");
    expect(field!.replace("whisper-large-v3")).toEqual(bytes([...head, textPart(b, "model", "whisper-large-v3"), ...tail]));
  });

  test("works with the boundary a quoted Content-Type parameter names", () => {
    const b = boundaryOf('multipart/form-data; boundary="odd boundary:1"')!;
    const body = bytes([textPart(b, "model", "gpt"), ...filePart(b), closing(b)]);
    const field = findMultipartField(body, b, "model");
    expect(field?.value).toBe("gpt");
    expect(field!.replace("x")).toEqual(bytes([textPart(b, "model", "x"), ...filePart(b), closing(b)]));
  });

  test("the header's case does not matter, the name must match whole", () => {
    const b = "b";
    const body = bytes([textPart(b, "model_name", "no"), textPart(b, "model", "yes", "content-disposition: form-data"), closing(b)]);
    expect(findMultipartField(body, b, "model")?.value).toBe("yes");
  });

  test("a file whose bytes spell a model field is not mistaken for one", () => {
    const b = "b";
    const lookalike = encoder.encode('Content-Disposition: form-data; name="model"\r\n\r\nfake');
    const body = bytes([
      encoder.encode(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n`),
      lookalike,
      encoder.encode("\r\n"),
      textPart(b, "model", "real"),
      closing(b),
    ]);
    expect(findMultipartField(body, b, "model")?.value).toBe("real");
  });

  test("no such field, or a body cut short, gives null", () => {
    const b = "b";
    expect(findMultipartField(bytes([textPart(b, "language", "en"), ...filePart(b), closing(b)]), b, "model")).toBeNull();
    const cut = bytes([textPart(b, "language", "en"), encoder.encode(`--${b}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt`)]);
    expect(findMultipartField(cut, b, "model")).toBeNull();
    expect(findMultipartField(new Uint8Array(0), b, "model")).toBeNull();
  });

  test("a value outside ASCII is read and written as UTF-8", () => {
    const b = "b";
    const field = findMultipartField(bytes([textPart(b, "model", "modèle"), closing(b)]), b, "model");
    expect(field?.value).toBe("modèle");
    expect(field!.replace("模型")).toEqual(bytes([textPart(b, "model", "模型"), closing(b)]));
  });
});
