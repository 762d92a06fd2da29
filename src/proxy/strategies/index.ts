import type { Strategy } from "../../model/model";
import type { Pick } from "./choice";
import { latency } from "./latency";
import { leastBusy } from "./least-busy";
import { roundRobin } from "./round-robin";
import { weighted } from "./weighted";

/** Each strategy a model may name, by its name in the config. */
export const STRATEGIES: Readonly<Record<Strategy, Pick>> = {
  "round-robin": roundRobin,
  weighted,
  "least-busy": leastBusy,
  latency,
};
