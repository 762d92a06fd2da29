import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { modelFromEndpoint } from "../config/models";
import { DEFAULT_TIMEOUTS } from "../config/schema";
import { HealthChecker } from "./health-check";
import { TargetStates } from "./target-states";

const model = (intervalMs: number, url = "http://127.0.0.1:9/v1") =>
  modelFromEndpoint("m", { url, healthCheck: { intervalMs } }, { policy: {}, timeouts: DEFAULT_TIMEOUTS, priceTable: null });

describe("HealthChecker.sync", () => {
  const armed = spyOn(globalThis, "setInterval");
  const checker = new HealthChecker(new TargetStates());
  afterEach(() => checker.stop());

  test("a rebuilt catalog with the model unchanged keeps its check's timer; a new interval or backend re-arms it", () => {
    armed.mockClear();
    checker.sync([model(60_000)]);
    expect(armed).toHaveBeenCalledTimes(1);
    checker.sync([model(60_000)]); // the same model, rebuilt (a reload, a discovery change)
    expect(armed).toHaveBeenCalledTimes(1);
    checker.sync([model(30_000)]);
    expect(armed).toHaveBeenCalledTimes(2);
    checker.sync([model(30_000, "http://127.0.0.1:10/v1")]);
    expect(armed).toHaveBeenCalledTimes(3);
  });
});
