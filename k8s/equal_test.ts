import { assertEquals } from "../tests/assert.ts";
import { deepEqual } from "./equal.ts";

Deno.test("deepEqual compares JSON values structurally", () => {
  assertEquals(deepEqual({ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }), true);
  assertEquals(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
  assertEquals(deepEqual([1, 2], [2, 1]), false, "arrays are ordered");
  assertEquals(deepEqual({ a: undefined }, {}), true, "undefined counts as absent");
  assertEquals(deepEqual({ a: null }, {}), false);
  assertEquals(deepEqual([], {}), false);
  assertEquals(deepEqual("1", 1), false);
  assertEquals(deepEqual({ a: { b: 1 } }, { a: { b: 2 } }), false);
});
