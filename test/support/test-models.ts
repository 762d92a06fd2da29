import { stateKeyOf, type Model, type Target } from "../../src/model/model";

/** Models and targets for the routing unit tests: only the fields routing reads matter. */
export function testTarget(modelId: string, name: string, weight = 1): Target {
  return {
    name,
    modelId,
    stateKey: stateKeyOf(modelId, name),
    url: `http://127.0.0.1/${name}`,
    prefix: `http://127.0.0.1/${name}/v1/`,
    provider: "openai",
    authorization: null,
    actualModelName: modelId,
    timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 },
    weight,
    streamUsage: true,
  };
}

export function testModel(id: string, weights: readonly number[], strategy: Model["strategy"] = "round-robin"): Model {
  return {
    id,
    displayName: id,
    strategy,
    retry: { attempts: 2, backoffMs: 0, maxBackoffMs: 0, retryOn: new Set([500]) },
    cooldown: { failures: 3, ms: 30_000 },
    fallbacks: [],
    targets: weights.map((weight, i) => testTarget(id, `t${i}`, weight)),
    healthCheckMs: null,
  };
}
