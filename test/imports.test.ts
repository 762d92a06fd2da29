// The layout's promise, kept by a test: every import in src/ points down the layers, and no files import each other in a ring.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "..", "src");

/**
 * Top to bottom: a folder (or a file at the root of src/) may import only from a layer below its
 * own. Folders in one layer are independent of each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["cli.ts"], // the entry: argv → a command
  ["cli"], // the commands: --init, --probe, the re-exec that raises the fetch cap
  ["server"], // composition root and lifecycle
  ["http"], // routes
  ["proxy"], // one dispatch per request: selection, retry, fallback
  ["providers"], // one adapter per wire format
  ["observe"], // records, logs, metrics, usage, reports
  ["limits", "targets", "catalog", "upstream", "keys"],
  ["cluster"], // what instances share (Redis)
  ["config"],
  ["access", "pricing"], // client and admin keys; prices and what a request cost
  ["model"], // Model, Target, errors, ids: the leaf everyone shares
  ["lib", "ui", "workers.ts", "assets.d.ts"], // no project knowledge
];

const layerOf = new Map(LAYERS.flatMap((names, rank) => names.map((name) => [name, rank] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The first path segment below src/: a folder, or a file at the root. */
const unitOf = (file: string) => relative(SRC, file).split("/")[0]!;

const SPECIFIER = /(?:^|\s)(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"|import\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g;

/** Each source file with the src/ files it imports (imports that leave src/, e.g. package.json, are not edges). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const targets: string[] = [];
    for (const match of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
      const target = resolve(dirname(file), match[1] ?? match[2]!);
      if (!target.startsWith(SRC + "/")) continue;
      targets.push(/\.\w+$/.test(target) ? target : `${target}.ts`);
    }
    graph.set(file, targets);
  }
  return graph;
}

describe("the import layers", () => {
  const graph = importGraph();

  test("every file of src/ is in a layer", () => {
    const unplaced = [...new Set([...graph.keys()].map(unitOf))].filter((unit) => !layerOf.has(unit));
    expect(unplaced).toEqual([]);
  });

  test("no import points up, or sideways into another folder of the same layer", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = unitOf(file);
      for (const target of targets) {
        const to = unitOf(target);
        if (from !== to && !(layerOf.get(to)! > layerOf.get(from)!)) wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("no ring of files importing each other", () => {
    const state = new Map<string, "open" | "done">();
    const rings: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        rings.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(rings).toEqual([]);
  });

  test("the reader finds the imports (server imports http)", () => {
    // A reader that found no imports would pass every check above.
    const edges = [...graph].flatMap(([file, targets]) => targets.map((target) => [unitOf(file), unitOf(target)]));
    expect(edges).toContainEqual(["server", "http"]);
  });
});
