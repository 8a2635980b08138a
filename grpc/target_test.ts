import { assertEquals, assertThrows } from "../tests/assert.ts";
import { parseTarget } from "./target.ts";

Deno.test("host:port and [v6]:port are DNS targets named by their host", () => {
  assertEquals(parseTarget("router.lan:50051"), {
    grpcTarget: "router.lan:50051",
    scheme: "dns",
    tlsName: "router.lan",
    probe: { host: "router.lan", port: 50051 },
  });
  assertEquals(parseTarget("[::1]:443").tlsName, "::1");
  assertEquals(parseTarget("10.0.0.1:50051").probe, { host: "10.0.0.1", port: 50051 });
});

Deno.test("dns: targets in every spelling, grpc-js gets them unchanged", () => {
  for (
    const t of ["dns:///router.lan:50051", "dns:router.lan:50051", "dns://8.8.8.8/router.lan:50051"]
  ) {
    const p = parseTarget(t);
    assertEquals([p.grpcTarget, p.scheme, p.tlsName, p.probe], [t, "dns", "router.lan", {
      host: "router.lan",
      port: 50051,
    }]);
  }
});

Deno.test("ipv4: and ipv6: targets: the certificate must name the first address", () => {
  const v4 = parseTarget("ipv4:10.0.0.1:50051,10.0.0.2:50051");
  assertEquals([v4.scheme, v4.tlsName, v4.probe], ["ipv4", "10.0.0.1", {
    host: "10.0.0.1",
    port: 50051,
  }]);
  const v6 = parseTarget("ipv6:[fd00::1]:50051");
  assertEquals([v6.scheme, v6.tlsName], ["ipv6", "fd00::1"]);
});

Deno.test("unix: targets have a socket path and no TLS name", () => {
  for (const t of ["unix:///run/router-hosts.sock", "unix:/run/router-hosts.sock"]) {
    assertEquals(parseTarget(t), {
      grpcTarget: "unix:/run/router-hosts.sock",
      scheme: "unix",
      probe: { path: "/run/router-hosts.sock" },
    });
  }
  assertEquals(parseTarget("unix:run/rh.sock").probe, { path: "run/rh.sock" });
});

Deno.test("bad targets say what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["router.lan", /want host:port/],
    ["router.lan:0", /want host:port/],
    ["h:70000", /want host:port/],
    ["[zz]:1", /not an IPv6 address/],
    ["dns:///router.lan", /want host:port/],
    ["ipv4:router.lan:1", /"router.lan" is not an IPv4 address/],
    ["ipv4:[::1]:1", /"::1" is not an IPv4 address/],
    ["ipv6:10.0.0.1:1", /not an IPv6 address/],
    ["unix://host/sock", /want unix:\/\/\/absolute\/path/],
    ["unix:", /no socket path/],
    ["xds:///router", /unsupported target scheme "xds:"/],
  ];
  for (const [t, re] of cases) {
    const e = assertThrows(() => parseTarget(t), t);
    if (!re.test(e.message)) throw new Error(`${t}: ${e.message} does not match ${re}`);
  }
});
