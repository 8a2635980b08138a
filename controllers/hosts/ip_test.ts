import { assertEquals } from "../../tests/assert.ts";
import { canonicalIp, sameIp } from "./ip.ts";

Deno.test("canonicalIp gives every spelling of an IPv6 address one text (RFC 5952)", () => {
  for (const spelling of ["FD00::1", "fd00::1", "fd00:0::1", "fd00:0000:0:0:0:0:0:0001"]) {
    assertEquals(canonicalIp(spelling), "fd00::1", spelling);
  }
  assertEquals(canonicalIp("1:0:0:1:0:0:0:1"), "1:0:0:1::1");
  assertEquals(canonicalIp("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  assertEquals(canonicalIp("::"), "::");
  assertEquals(canonicalIp("::FFFF:10.0.0.1"), "::ffff:10.0.0.1");
  assertEquals(canonicalIp("::ffff:a00:1"), "::ffff:10.0.0.1");
});

Deno.test("canonicalIp keeps IPv4 and refuses what is not an address", () => {
  assertEquals(canonicalIp("10.0.0.1"), "10.0.0.1");
  for (
    const bad of ["", "not-an-ip", "010.0.0.1", "10.0.0", "fe80::1%eth0", "fd00::1::2", " 10.0.0.1"]
  ) {
    assertEquals(canonicalIp(bad), undefined, bad);
  }
});

Deno.test("sameIp compares addresses, not spellings", () => {
  assertEquals(sameIp("FD00::1", "fd00:0::1"), true);
  assertEquals(sameIp("fd00::1", "fd00::2"), false);
  assertEquals(sameIp("10.0.0.1", "10.0.0.1"), true);
});
