import { expect, test } from "bun:test";
import { isOutage, sqlStateOf } from "./postgres";

test("a server error's SQLSTATE is read from errno; Bun's own errors carry none", () => {
  expect(sqlStateOf(Object.assign(new Error("duplicate key"), { errno: "23505" }))).toBe("23505");
  expect(sqlStateOf(Object.assign(new Error("refused"), { code: "ERR_POSTGRES_CONNECTION_CLOSED" }))).toBeNull();
  expect(sqlStateOf(null)).toBeNull();
});

test("an outage is a missing server or one refusing for its own state, not a fault in the statement", () => {
  expect(isOutage(new Error("connection refused"))).toBe(true);
  for (const state of ["08006", "53300", "57P01", "58030"]) expect(isOutage(Object.assign(new Error(state), { errno: state }))).toBe(true);
  for (const state of ["23505", "42P01", "22001"]) expect(isOutage(Object.assign(new Error(state), { errno: state }))).toBe(false);
});
