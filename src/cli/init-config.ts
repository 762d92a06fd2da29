import { writeFileSync } from "node:fs";
// Embedded in the compiled binary, so a new user with nothing but the binary can get a start.
import exampleText from "../../config.example.json" with { type: "text" };

/** config.example.json, layout kept: the text import is a string, whatever TypeScript infers for a .json file. */
export const EXAMPLE_CONFIG = exampleText as unknown as string;

const problems: Record<string, (path: string) => string> = {
  EEXIST: (path) => `${path} already exists and was left unchanged (remove it, or name another file: --init <file>)`,
  ENOENT: (path) => `${path}: its folder does not exist`,
  EACCES: (path) => `${path}: permission denied`,
  EISDIR: (path) => `${path} is a folder`,
};

/** Writes the example config to `path`, never over an existing file; throws an Error with a one-line message. */
export function writeExampleConfig(path: string): void {
  try {
    writeFileSync(path, EXAMPLE_CONFIG, { flag: "wx" });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new Error(problems[code ?? ""]?.(path) ?? `${path}: ${message}`);
  }
}
