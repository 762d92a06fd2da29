import { MemoryLimitStore } from "./memory-store";
import { limitStoreContract } from "../../test/support/limit-store-contract";

// The embedded default; test/redis/store-contract.test.ts holds the Redis store to the same tests.
const store = new MemoryLimitStore();
limitStoreContract("memory", () => store);
