/**
 * Replaces the value of every `model` parameter in a query string (`?a=1&model=x`) and leaves the
 * other parameters exactly as the client encoded them (URLSearchParams would re-encode them all).
 */
export function withQueryModel(search: string, model: string): string {
  if (search === "") return search;
  const pairs = search
    .slice(1)
    .split("&")
    .map((pair) => {
      const name = pair.split("=", 1)[0]!;
      return decodeQueryComponent(name) === "model" ? `${name}=${encodeURIComponent(model)}` : pair;
    });
  return `?${pairs.join("&")}`;
}

function decodeQueryComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}
