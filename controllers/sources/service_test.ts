import { assertEquals } from "../../tests/assert.ts";
import {
  type ServiceDesired,
  serviceDesired,
  serviceFields,
  type ServiceOptions,
} from "./service.ts";

const P = "router-hosts.fzymgc.house/";
const ED = "external-dns.alpha.kubernetes.io/";

function svc(
  type: string | undefined,
  annotations: Record<string, string>,
  ingress: unknown[] = [],
) {
  return serviceFields({
    metadata: { name: "web", namespace: "apps", annotations },
    spec: type === undefined ? {} : { type },
    status: { loadBalancer: { ingress } },
  });
}

const GO: ServiceOptions = { externalDns: false };
const ED_ON: ServiceOptions = { externalDns: true };
const on = { [`${P}enabled`]: "true", [`${P}hostname`]: "web.lan" };

/** [name, fields, options, what must hold]. */
const CASES: [string, ReturnType<typeof svc>, ServiceOptions, Partial<ServiceDesired>][] = [
  ["not annotated: not managed", svc("LoadBalancer", {}), GO, {
    managed: false,
    problems: [],
  }],
  ["opted out: not managed", svc("LoadBalancer", { ...on, [`${P}enabled`]: "false" }), GO, {
    managed: false,
    problems: [],
  }],
  ["LoadBalancer with status IP", svc("LoadBalancer", on, [{ ip: "10.0.0.5" }]), GO, {
    managed: true,
    hold: false,
    host: {
      hostname: "web.lan",
      aliases: [],
      ip: { ip: "10.0.0.5", from: "status.loadBalancer.ingress" },
    },
    problems: [],
  }],
  [
    "ip-address annotation wins over status",
    svc("LoadBalancer", { ...on, [`${P}ip-address`]: "192.168.1.9" }, [{ ip: "10.0.0.5" }]),
    GO,
    {
      host: {
        hostname: "web.lan",
        aliases: [],
        ip: { ip: "192.168.1.9", from: `annotation ${P}ip-address` },
      },
    },
  ],
  [
    "hostname-only status: resolved later",
    svc("LoadBalancer", on, [{ hostname: "a1.elb.example" }]),
    GO,
    {
      host: {
        hostname: "web.lan",
        aliases: [],
        ip: { hostname: "a1.elb.example", from: "status.loadBalancer.ingress" },
      },
    },
  ],
  [
    "NodePort with ip-address",
    svc("NodePort", { ...on, [`${P}ip-address`]: "192.168.1.20" }),
    GO,
    {
      host: {
        hostname: "web.lan",
        aliases: [],
        ip: { ip: "192.168.1.20", from: `annotation ${P}ip-address` },
      },
    },
  ],
  [
    "aliases: trimmed, de-duplicated, hostname dropped",
    svc("LoadBalancer", {
      ...on,
      [`${P}aliases`]: " a.lan, b.lan,,A.lan , web.lan",
    }, [{ ip: "10.0.0.5" }]),
    GO,
    {
      host: {
        hostname: "web.lan",
        aliases: ["a.lan", "b.lan"],
        ip: { ip: "10.0.0.5", from: "status.loadBalancer.ingress" },
      },
      problems: [],
    },
  ],
];

Deno.test("serviceDesired: synced cases", () => {
  for (const [name, fields, options, want] of CASES) {
    const got = serviceDesired(fields, options);
    for (const [k, v] of Object.entries(want)) {
      assertEquals(got[k as keyof ServiceDesired], v, `${name}: ${k}`);
    }
  }
});

/** [name, fields, options, reason, event type, hold (keep the entry)]. */
const PROBLEMS: [string, ReturnType<typeof svc>, ServiceOptions, string, string, boolean][] = [
  ["ClusterIP", svc("ClusterIP", on), GO, "InvalidServiceType", "Warning", false],
  ["type unset = ClusterIP", svc(undefined, on), GO, "InvalidServiceType", "Warning", false],
  ["ExternalName", svc("ExternalName", on), GO, "InvalidServiceType", "Warning", false],
  [
    "no hostname",
    svc("LoadBalancer", { [`${P}enabled`]: "true" }),
    GO,
    "MissingHostname",
    "Warning",
    false,
  ],
  [
    "blank hostname",
    svc("LoadBalancer", { ...on, [`${P}hostname`]: "  " }),
    GO,
    "MissingHostname",
    "Warning",
    false,
  ],
  ["NodePort without ip-address", svc("NodePort", on), GO, "MissingIPAddress", "Warning", false],
  ["LoadBalancer pending", svc("LoadBalancer", on), GO, "PendingLoadBalancer", "Normal", true],
  [
    "invalid hostname",
    svc("LoadBalancer", { ...on, [`${P}hostname`]: "web_1.lan" }, [{ ip: "10.0.0.5" }]),
    GO,
    "InvalidConfiguration",
    "Warning",
    true,
  ],
  [
    "invalid ip-address",
    svc("NodePort", { ...on, [`${P}ip-address`]: "10.0.0" }),
    GO,
    "InvalidConfiguration",
    "Warning",
    true,
  ],
  [
    "51 aliases",
    svc("LoadBalancer", {
      ...on,
      [`${P}aliases`]: Array.from({ length: 51 }, (_, i) => `a${i}.lan`).join(","),
    }, [{ ip: "10.0.0.5" }]),
    GO,
    "InvalidConfiguration",
    "Warning",
    true,
  ],
];

Deno.test("serviceDesired: the Go operator's Event reasons, and what is kept", () => {
  for (const [name, fields, options, reason, type, hold] of PROBLEMS) {
    const got = serviceDesired(fields, options);
    assertEquals(got.managed, true, name);
    assertEquals(got.host, undefined, name);
    assertEquals(got.hold, hold, name);
    assertEquals(got.problems.map((p) => [p.reason, p.type]), [[reason, type]], name);
  }
});

Deno.test("serviceDesired: 50 aliases are fine; an invalid alias is left out with an Event", () => {
  const fifty = Array.from({ length: 50 }, (_, i) => `a${i}.lan`).join(",");
  const ok = serviceDesired(
    svc("LoadBalancer", { ...on, [`${P}aliases`]: fifty }, [{ ip: "10.0.0.5" }]),
    GO,
  );
  assertEquals(ok.host?.aliases.length, 50);
  const bad = serviceDesired(
    svc("LoadBalancer", { ...on, [`${P}aliases`]: "ok.lan,bad_alias,10.1.1.1" }, [{
      ip: "10.0.0.5",
    }]),
    GO,
  );
  assertEquals(bad.host?.aliases, ["ok.lan"]);
  assertEquals(bad.problems.map((p) => p.reason), ["InvalidConfiguration", "InvalidConfiguration"]);
});

Deno.test("serviceDesired: an enabled value other than true/false is reported; the entry is kept", () => {
  const got = serviceDesired(
    svc("LoadBalancer", { ...on, [`${P}enabled`]: "yes" }, [{ ip: "10.0.0.5" }]),
    GO,
  );
  assertEquals([got.managed, got.hold, got.host], [true, true, undefined]);
  assertEquals(got.problems.map((p) => p.reason), ["InvalidConfiguration"]);
});

Deno.test("serviceDesired: external-dns annotations only with the option", () => {
  const annotated = {
    [`${ED}hostname`]: "web.example.com., www.example.com",
    [`${ED}target`]: "203.0.113.7",
  };
  assertEquals(serviceDesired(svc("LoadBalancer", annotated), GO).managed, false);
  assertEquals(serviceDesired(svc("LoadBalancer", annotated), ED_ON).host, {
    hostname: "web.example.com",
    aliases: ["www.example.com"],
    ip: { ip: "203.0.113.7", from: `annotation ${ED}target` },
  });
  // Opting out still wins; other types are left alone without an Event (external-dns's rule).
  assertEquals(
    serviceDesired(svc("LoadBalancer", { ...annotated, [`${P}enabled`]: "false" }), ED_ON)
      .managed,
    false,
  );
  assertEquals(serviceDesired(svc("ClusterIP", annotated), ED_ON), {
    managed: false,
    hold: false,
    problems: [],
  });
  // Our annotations win; external-dns names become aliases; a name target is resolved later.
  assertEquals(
    serviceDesired(
      svc("LoadBalancer", { ...on, [`${ED}hostname`]: "x.example.com", [`${ED}target`]: "lb.x" }, [{
        ip: "10.0.0.5",
      }]),
      ED_ON,
    ).host,
    {
      hostname: "web.lan",
      aliases: ["x.example.com"],
      ip: { hostname: "lb.x", from: `annotation ${ED}target` },
    },
  );
  // ip-address beats the target.
  assertEquals(
    serviceDesired(
      svc("NodePort", { ...annotated, [`${P}ip-address`]: "192.168.0.2" }),
      ED_ON,
    ).host?.ip,
    { ip: "192.168.0.2", from: `annotation ${P}ip-address` },
  );
});
