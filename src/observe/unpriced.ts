// The log's word on a model whose requests cannot be priced: said once per model, while /usage,
// the access log and the metrics show each such request's cost as null.
import type { Logger } from "../lib/log";
import { UNKNOWN_MODEL } from "./metrics/proxy-metrics";
import type { Observer } from "./observability";

/** An observer that warns the first time a model's request reports usage its serving target has no price for. */
export function unpricedWarnings(log: Logger): Observer {
  const warned = new Set<string>();
  return (record) => {
    if (!record.isModelRequest || record.usage === null || record.costUsd !== null) return;
    const model = record.modelLabel ?? UNKNOWN_MODEL;
    if (warned.has(model)) return;
    warned.add(model);
    log.warn(
      `model '${model}' has no price (served by '${record.servedTarget}'): its requests are recorded with no cost; set "price" on its endpoint, or an actualModelName the built-in price table knows`,
      { model, target: record.servedTarget },
    );
  };
}
