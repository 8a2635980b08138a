import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { hostnameProblem } from "./hostname.ts";

Deno.test("hostnameProblem follows the server's rules", () => {
  assertEquals(hostnameProblem("a-b.c0.lan"), null);
  assertEquals(hostnameProblem("-a.lan"), "hostname cannot start or end with hyphen");
  assertEquals(hostnameProblem(""), "hostname cannot be empty");
  assertEquals(
    hostnameProblem(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`),
    null,
  );
  assertMatch(
    hostnameProblem(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`)!,
    /253/,
  );
});
