import { assertEquals } from "../../tests/assert.ts";
import {
  ClusterIngressIP,
  type DnsResolver,
  firstCandidate,
  fixedCandidate,
  loadBalancerCandidate,
  loadBalancerIngress,
  type LoadBalancerView,
  lowestAddress,
  resolveCandidate,
} from "./ip_source.ts";

/** DNS answers from a table; a name mapped to an Error makes the lookup fail. */
function tableDns(a: Record<string, string[] | Error>, aaaa: Record<string, string[]> = {}) {
  const asked: string[] = [];
  const dns: DnsResolver = {
    resolve4(name) {
      asked.push(`A ${name}`);
      const v = a[name];
      return v instanceof Error ? Promise.reject(v) : Promise.resolve(v ?? []);
    },
    resolve6(name) {
      asked.push(`AAAA ${name}`);
      return Promise.resolve(aaaa[name] ?? []);
    },
  };
  return { dns, asked };
}

Deno.test("loadBalancerIngress keeps ip and hostname, drops malformed items", () => {
  assertEquals(loadBalancerIngress({}), []);
  assertEquals(
    loadBalancerIngress({
      status: {
        loadBalancer: {
          ingress: [{ ip: "10.0.0.1", ports: [] }, null, 3, {}, { hostname: "lb.example" }, {
            ip: "",
            hostname: "x",
          }],
        },
      },
    }),
    [{ ip: "10.0.0.1" }, { hostname: "lb.example" }, { hostname: "x" }],
  );
});

Deno.test("loadBalancerCandidate: first ip wins over an earlier hostname; else the first hostname", () => {
  const cases: [Parameters<typeof loadBalancerCandidate>[0], unknown][] = [
    [[], undefined],
    [[{ hostname: "a.elb" }, { ip: "10.0.0.2" }], { ip: "10.0.0.2", from: "s" }],
    [[{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], { ip: "10.0.0.1", from: "s" }],
    [[{ hostname: "a.elb" }, { hostname: "b.elb" }], { hostname: "a.elb", from: "s" }],
    [[{ ip: "not-an-ip", hostname: "c.elb" }], { hostname: "c.elb", from: "s" }],
  ];
  for (const [ingress, want] of cases) assertEquals(loadBalancerCandidate(ingress, "s"), want);
});

Deno.test("firstCandidate takes the first set source; fixedCandidate trims and drops empty", () => {
  assertEquals(fixedCandidate("", "flag"), undefined);
  assertEquals(fixedCandidate(" 10.1.1.1 ", "flag"), { ip: "10.1.1.1", from: "flag" });
  assertEquals(
    firstCandidate([undefined, fixedCandidate("10.0.0.9", "b"), fixedCandidate("10.0.0.8", "c")]),
    { ip: "10.0.0.9", from: "b" },
  );
  assertEquals(firstCandidate([undefined, undefined]), undefined);
});

Deno.test("lowestAddress orders numerically, IPv4 and IPv6", () => {
  assertEquals(lowestAddress(["10.0.0.10", "10.0.0.9", "9.255.0.1"]), "9.255.0.1");
  assertEquals(lowestAddress(["2001:db8::10", "2001:db8::9", "2001:db8:0:1::"]), "2001:db8::9");
  assertEquals(lowestAddress([]), undefined);
});

Deno.test("resolveCandidate: an IP as is; a bad IP is an error; no DNS asked", async () => {
  const { dns, asked } = tableDns({});
  assertEquals(await resolveCandidate({ ip: "192.168.1.5", from: "a" }, dns), {
    ip: "192.168.1.5",
    from: "a",
  });
  assertEquals(await resolveCandidate({ ip: "192.168.1", from: "a" }, dns), {
    error: '"192.168.1" is not an IPv4 or IPv6 address',
    from: "a",
  });
  assertEquals(asked, []);
});

Deno.test("resolveCandidate: IPv4 preferred and stable; IPv6 only without A; errors named", async () => {
  const { dns, asked } = tableDns(
    { "both.elb": ["10.0.0.7", "10.0.0.3"], "broken.elb": new Error("server failure") },
    { "both.elb": ["2001:db8::1"], "v6.elb": ["2001:db8::2"] },
  );
  const lb = (hostname: string) => ({ hostname, from: "status" });
  assertEquals(await resolveCandidate(lb("both.elb"), dns), {
    ip: "10.0.0.3",
    from: "status",
    hostname: "both.elb",
  });
  assertEquals(asked, ["A both.elb"]);
  assertEquals(await resolveCandidate(lb("v6.elb"), dns), {
    ip: "2001:db8::2",
    from: "status",
    hostname: "v6.elb",
  });
  assertEquals(await resolveCandidate(lb("none.elb"), dns), {
    error: "DNS name none.elb has no A or AAAA record",
    from: "status",
    hostname: "none.elb",
  });
  assertEquals(await resolveCandidate(lb("broken.elb"), dns), {
    error: "DNS lookup of broken.elb failed: server failure",
    from: "status",
    hostname: "broken.elb",
  });
});

Deno.test("ClusterIngressIP without --ingress-service: the flag, or missing", async () => {
  const { dns } = tableDns({});
  assertEquals(
    await new ClusterIngressIP({ defaultIngressIP: "10.0.0.1", dns }).resolve(() => undefined),
    { ip: "10.0.0.1", from: "--default-ingress-ip" },
  );
  const none = await new ClusterIngressIP({ defaultIngressIP: "", dns }).resolve(() => undefined);
  assertEquals("missing" in none && none.missing, "--default-ingress-ip is not set");
});

Deno.test("ClusterIngressIP: the Service's address wins; the flag only while it has none", async () => {
  const { dns } = tableDns({});
  const c = new ClusterIngressIP({
    service: { namespace: "traefik", name: "lb" },
    defaultIngressIP: "10.0.0.1",
    dns,
  });
  assertEquals(c.key, "traefik/lb");
  assertEquals([c.kind?.namespace, c.kind?.fieldSelector], ["traefik", "metadata.name=lb"]);
  let view: LoadBalancerView | undefined = { loadBalancer: [{ ip: "192.168.5.5" }] };
  const read = () => view;
  assertEquals(await c.resolve(read), { ip: "192.168.5.5", from: "Service traefik/lb" });
  view = { loadBalancer: [] };
  assertEquals(await c.resolve(read), {
    ip: "10.0.0.1",
    from: "--default-ingress-ip (Service traefik/lb has no address)",
  });
  view = undefined;
  const noFlag = new ClusterIngressIP({
    service: { namespace: "traefik", name: "lb" },
    defaultIngressIP: "",
    dns,
  });
  const missing = await noFlag.resolve(read);
  assertEquals("missing" in missing && missing.retry, undefined, "waits for the Service, no retry");
});

Deno.test("ClusterIngressIP: one DNS answer serves many objects; a failure is retried, not kept", async () => {
  const table: Record<string, string[] | Error> = { "lb.elb": new Error("timeout") };
  const { dns, asked } = tableDns(table);
  let now = 0;
  const c = new ClusterIngressIP({
    service: { namespace: "t", name: "lb" },
    defaultIngressIP: "10.0.0.1",
    dns,
    now: () => now,
  });
  const read = () => ({ loadBalancer: [{ hostname: "lb.elb" }] });
  const failed = await c.resolve(read);
  assertEquals("missing" in failed && [failed.reason, failed.retry], ["UnresolvableAddress", true]);
  table["lb.elb"] = ["10.8.0.1"];
  for (let i = 0; i < 3; i++) {
    assertEquals(await c.resolve(read), { ip: "10.8.0.1", from: "Service t/lb" });
  }
  assertEquals(asked, ["A lb.elb", "A lb.elb"], "asked again after the failure, then reused");
  now = 31_000;
  await c.resolve(read);
  assertEquals(asked.length, 3, "asked again after 30 s");
});
