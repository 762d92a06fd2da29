import { expect, test } from "bun:test";
import { batchedWriter } from "./batched-writer";

test("lines wait and go out together, in order; a big batch goes at once; flush writes what waits", async () => {
  const writes: string[] = [];
  let third!: () => void;
  const thirdWritten = new Promise<void>((resolve) => (third = resolve));
  const writer = batchedWriter((text) => {
    writes.push(text);
    if (writes.length === 3) third();
  });
  writer.write("a\n");
  writer.write("b\n");
  await new Promise((resolve) => setImmediate(resolve));
  expect(writes).toEqual([]);
  writer.flush();
  expect(writes).toEqual(["a\nb\n"]);
  const big = "x".repeat(64 * 1024);
  writer.write(big);
  expect(writes).toEqual(["a\nb\n", big]);
  writer.write("c\n");
  await thirdWritten; // the timer writes it on its own, within a tenth of a second
  expect(writes[2]).toBe("c\n");
});
