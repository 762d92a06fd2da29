import { expect, test } from "bun:test";
import { withQueryModel } from "./query";

const CASES: [string, string, string][] = [
  ["no query", "", ""],
  ["the model alone", "?model=gpt", "?model=backend%2Fgpt%204o"],
  ["other parameters keep the client's encoding", "?q=a%20b&model=gpt&plus=a+b&empty=&flag", "?q=a%20b&model=backend%2Fgpt%204o&plus=a+b&empty=&flag"],
  ["a repeated model is replaced every time", "?model=a&x=1&model=b", "?model=backend%2Fgpt%204o&x=1&model=backend%2Fgpt%204o"],
  ["a '+' in the value is part of the old value", "?model=gpt+4&n=1", "?model=backend%2Fgpt%204o&n=1"],
  ["a '+' in the name decodes to a space: not the model", "?model+=gpt&model=gpt", "?model+=gpt&model=backend%2Fgpt%204o"],
  ["a percent-encoded name is still the model, its spelling kept", "?mod%65l=gpt", "?mod%65l=backend%2Fgpt%204o"],
  ["a name that cannot be decoded is left alone", "?model%zz=1&model=gpt", "?model%zz=1&model=backend%2Fgpt%204o"],
  ["similar names are not the model", "?models=a&model_id=b&xmodel=c", "?models=a&model_id=b&xmodel=c"],
];

for (const [label, search, expected] of CASES) {
  test(`${label}: "${search}" → "${expected}"`, () => expect(withQueryModel(search, "backend/gpt 4o")).toBe(expected));
}
