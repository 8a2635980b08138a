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

Deno.test("hostnameProblem refuses the reserved names of a hosts file, any case", () => {
  for (
    const name of [
      "localhost",
      "LocalHost",
      "localhost.localdomain",
      "broadcasthost",
      "ip6-localhost",
      "ip6-loopback",
      "ip6-localnet",
      "ip6-mcastprefix",
      "ip6-allnodes",
      "ip6-allrouters",
      "ip6-allhosts",
      "app.localhost",
    ]
  ) {
    assertMatch(hostnameProblem(name) ?? "accepted", /reserved|localhost/, name);
    assertMatch(hostnameProblem(name)!, /never written/, name);
  }
  for (const name of ["localhost.home.arpa", "mylocalhost", "ip6-nas.lan", "broadcasthost2"]) {
    assertEquals(hostnameProblem(name), null, name);
  }
});
