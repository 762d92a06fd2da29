// What a target's tokens cost: a price per million tokens, and where it came from.

/** Where a target's price came from: its config (`price` on the target or its endpoint) or the table built into the binary. */
export type PriceSource = "config" | "built-in";

/** US dollars per million tokens, as configured or found in the built-in table. */
export interface Price {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  /** Prompt tokens read from the backend's cache; null: they cost `inputPerMTok`. */
  readonly cachedInputPerMTok: number | null;
  /** Prompt tokens written to the backend's cache (Anthropic bills them above the input price); null: they cost `inputPerMTok`. */
  readonly cacheWriteInputPerMTok: number | null;
  readonly source: PriceSource;
}
