import { MemoryCounters } from "./memory-counters";
import { countersContract } from "../../test/support/counters-contract";

// The embedded default; test/redis/counters-contract.test.ts holds the Redis counters to the same tests.
const store = new MemoryCounters();
countersContract("memory", () => store);
