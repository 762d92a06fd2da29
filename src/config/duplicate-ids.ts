// JSON.parse keeps the last of two equal keys without a word, so an endpoint copied and not renamed
// would replace the first one silently. Only the text still shows both: this reads it for them.

/** A container being read: an object's keys so far and the key whose value is being read; null for an array. */
interface Open {
  readonly keys: Set<string> | null;
  key: string | null;
}

/**
 * The ids that appear more than once directly under the top-level `endpoints` object of `text`,
 * which must be valid JSON (JSON.parse accepted it). Keys are compared decoded, as JSON.parse does.
 * Duplicates elsewhere are left alone: files may repeat a note field such as `"//"`.
 */
export function duplicateEndpointIds(text: string): string[] {
  const duplicates: string[] = [];
  const open: Open[] = [];
  let expectingKey = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const inside = open.at(-1);
      if (expectingKey && inside?.keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (open.length === 2 && open[0]!.key === "endpoints" && inside.keys.has(key) && !duplicates.includes(key)) duplicates.push(key);
        inside.keys.add(key);
        inside.key = key;
        expectingKey = false;
      }
      i = end;
    } else if (char === "{" || char === "[") {
      open.push({ keys: char === "{" ? new Set() : null, key: null });
      expectingKey = char === "{";
    } else if (char === "}" || char === "]") {
      open.pop();
    } else if (char === ",") {
      expectingKey = open.at(-1)?.keys != null;
    }
  }
  return duplicates;
}
