// A target's price, once per config load: its configured price, else the built-in table's.
import type { Price } from "../model/price";
import type { PriceTable } from "./price-table";

/** A price as the config file gives it, USD per million tokens (a target's `price`, or its endpoint's). */
export interface ConfiguredPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly cachedInputPerMTok?: number;
  readonly cacheWriteInputPerMTok?: number;
}

/**
 * A target's price: the configured one, else the table's for the backend model name (`table` null
 * when `prices.builtIn` is false), else null.
 */
export function resolvePrice(configured: ConfiguredPrice | undefined, modelName: string, table: PriceTable | null): Price | null {
  if (configured) {
    return {
      inputPerMTok: configured.inputPerMTok,
      outputPerMTok: configured.outputPerMTok,
      cachedInputPerMTok: configured.cachedInputPerMTok ?? null,
      cacheWriteInputPerMTok: configured.cacheWriteInputPerMTok ?? null,
      source: "config",
    };
  }
  return table?.lookup(modelName) ?? null;
}
