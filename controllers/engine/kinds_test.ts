import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { fakeContext } from "../../tests/fakes/source_context.ts";
import { harness, IP } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../../tests/assert.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import type { WatchedKind } from "../../k8s/builder.ts";
import { GATEWAYS, type GatewayView, GRPCROUTE, HTTPROUTE, TLSROUTE } from "../sources/gateway.ts";
import type { SourceContext } from "./source.ts";
import { ingressSource } from "../sources/ingress.ts";
import { INGRESSROUTETCP } from "../sources/ingressroute.ts";
import { serviceSource } from "../sources/service.ts";

const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

const OVERRIDE = "router-hosts.fzymgc.house/ip-address";

function service(annotations: Record<string, string>, ingress: unknown[] = []): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: "web",
      namespace: "apps",
      uid: "uid-svc",
      resourceVersion: "1",
      annotations,
    },
    spec: { type: "LoadBalancer" },
    status: { loadBalancer: { ingress } },
  };
}

const OPTED_IN = {
  "router-hosts.fzymgc.house/enabled": "true",
  "router-hosts.fzymgc.house/hostname": "web.lan",
  "router-hosts.fzymgc.house/aliases": "www.lan",
};

/** A route on Gateway apps/gw (and `more`), accepted by each, as a Gateway controller writes it. */
function gatewayRoute(kind: string, hostnames: string[], more: string[] = []): KubeObject {
  const parentRefs = ["gw", ...more].map((name) => ({ name }));
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind,
    metadata: { name: "web", namespace: "apps", uid: "uid-r", resourceVersion: "1", generation: 1 },
    spec: { parentRefs, hostnames },
    status: {
      parents: parentRefs.map((parentRef) => ({
        parentRef,
        controllerName: "example.com/gateway",
        conditions: [{ type: "Accepted", status: "True" }],
      })),
    },
  };
}

/** A Gateway cache (HTTP and TLS listeners for every hostname) whose addresses the test sets. */
function gatewayCache(): {
  cached: SourceContext["cached"];
  set(ip?: string, name?: string): void;
} {
  const listeners = [
    { name: "http", port: 80, protocol: "HTTP", from: "Same", kinds: [] },
    { name: "tls", port: 443, protocol: "TLS", from: "Same", kinds: [] },
  ];
  const gateways = new Map<string, GatewayView>();
  return {
    cached: <W>(kind: WatchedKind<W>, key: string) =>
      (kind === (GATEWAYS as WatchedKind<unknown>)
        ? gateways.get(key) ?? (key === "apps/gw" ? { listeners } : undefined)
        : undefined) as W | undefined,
    set(ip, name = "gw") {
      gateways.set(`apps/${name}`, ip ? { listeners, address: { ip } } : { listeners });
    },
  };
}

Deno.test("IngressRouteTCP: HostSNI hosts, events about an IngressRouteTCP", async () => {
  const h = harness(
    route([`HostSNI(${B}db.lan${B})`, `HostSNI(${B}*${B})`], {}, "IngressRouteTCP"),
    {
      kind: INGRESSROUTETCP,
    },
  );
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["db.lan"]);
  assertEquals(h.events.list.map((e) => [e.reason, e.kind]), [[
    "InvalidHostname",
    "IngressRouteTCP",
  ]]);
});

Deno.test("override annotation: entries follow it in place, one Normal Updated Event", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const ids = h.kube.annotation();
  h.kube.edit((o) =>
    o.metadata!.annotations = { ...o.metadata!.annotations, [OVERRIDE]: "10.9.9.1" }
  );
  await h.run();
  const byName = h.hosts.byHostname();
  assertEquals([byName["a.lan"].ipAddress, byName["b.lan"].ipAddress], ["10.9.9.1", "10.9.9.1"]);
  assertEquals(h.kube.annotation(), ids, "same entries");
  assertEquals(h.events.list.map((e) => [e.type, e.reason]), [["Normal", "Updated"]]);
  assertMatch(
    h.events.list[0].note,
    /2 host entries updated in place \(ip 10\.9\.9\.1 from annotation/,
  );
});

Deno.test("override annotation that is not an IP: NoIngressIP once, entries left as they are", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  h.kube.edit((o) => o.metadata!.annotations = { ...o.metadata!.annotations, [OVERRIDE]: "nope" });
  h.hosts.calls = [];
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, []);
  assertEquals(h.hosts.byHostname()["a.lan"].ipAddress, IP);
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /"nope", not an IPv4 or IPv6 address/);
});

Deno.test("Service: aliases synced; opting out deletes the entry, annotation and finalizer", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN, [{ ip: "10.1.1.1" }]), { kind: svc });
  await h.run();
  const e = h.hosts.byHostname()["web.lan"];
  assertEquals([e.ipAddress, e.aliases, e.comment, e.tags], [
    "10.1.1.1",
    ["www.lan"],
    "k8s-service:apps/web",
    ["kubernetes", "service"],
  ]);
  assertEquals(h.kube.obj.metadata!.finalizers, ["router-hosts.fzymgc.house/service-cleanup"]);
  h.kube.edit((o) => delete o.metadata!.annotations!["router-hosts.fzymgc.house/enabled"]);
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  // Never selected (again): no request at all.
  const patches = h.kube.patches.length;
  h.hosts.calls = [];
  await h.run();
  assertEquals([h.hosts.calls, h.kube.patches.length], [[], patches]);
});

Deno.test("Service: PendingLoadBalancer is Normal, once per wait; the entry is kept meanwhile", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN), { kind: svc });
  await h.run();
  await h.run();
  assertEquals(h.events.list.map((e) => [e.type, e.reason]), [["Normal", "PendingLoadBalancer"]]);
  assertEquals([h.hosts.entries.size, h.kube.patches.length], [0, 0], "nothing written");
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [{ ip: "10.1.1.1" }] } });
  await h.run();
  const id = h.hosts.byHostname()["web.lan"].id;
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [] } });
  await h.run();
  assertEquals(h.hosts.byHostname()["web.lan"].id, id, "kept while waiting again");
  assertEquals(h.events.reasons(), ["PendingLoadBalancer", "PendingLoadBalancer"]);
});

Deno.test("Service: an unresolvable LoadBalancer name fails the reconcile (backoff), one Event", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN, [{ hostname: "nx.elb" }]), {
    kind: svc,
    context: fakeContext({ dns: { "ok.elb": ["10.3.3.3"] } }),
  });
  for (let i = 0; i < 2; i++) {
    assertMatch((await assertRejects(() => h.run())).message, /DNS lookup of nx\.elb failed/);
  }
  assertEquals(h.events.reasons(), ["UnresolvableAddress"]);
  assertEquals(h.hosts.entries.size, 0);
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [{ hostname: "ok.elb" }] } });
  await h.run();
  assertEquals(h.hosts.byHostname()["web.lan"].ipAddress, "10.3.3.3");
});

Deno.test("Ingress: an Ingress leaving the selected classes is released", async () => {
  const h = harness({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "web", namespace: "apps", uid: "uid-ing", resourceVersion: "1" },
    spec: { ingressClassName: "traefik", rules: [{ host: "a.lan" }, { host: "*.lan" }] },
  }, { kind: ingressSource(["traefik"]) });
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
  assertEquals(h.hosts.byHostname()["a.lan"].comment, "k8s-ingress-v1:apps/web");
  h.kube.edit((o) => (o.spec as { ingressClassName: string }).ingressClassName = "nginx");
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.kube.annotation(), undefined);
});

// ------------------------------------------------------------ Gateway routes

Deno.test("HTTPRoute: entries with the Gateway's IP; an address change updates them in place", async () => {
  const gw = gatewayCache();
  gw.set("10.9.0.1");
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan", "*.lan", "b.lan"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  const before = structuredClone(h.hosts.byHostname());
  assertEquals(Object.keys(before).sort(), ["a.lan", "b.lan"]);
  for (const e of Object.values(before)) {
    assertEquals([e.ipAddress, e.comment, e.tags], [
      "10.9.0.1",
      "k8s-gateway:apps/web",
      ["kubernetes", "gateway", "httproute"],
    ]);
  }
  assertEquals(h.kube.obj.metadata!.finalizers, [HTTPROUTE.finalizer]);
  gw.set("10.9.0.2");
  h.hosts.calls = [];
  await h.run();
  const after = h.hosts.byHostname();
  for (const name of ["a.lan", "b.lan"]) {
    assertEquals([after[name].id, after[name].ipAddress], [before[name].id, "10.9.0.2"]);
    assertOk(after[name].version !== before[name].version, "version bumped");
  }
  assertEquals(h.hosts.calls.filter((c) => c === "UpdateHost").length, 2);
});

Deno.test("HTTPRoute: no address and no default → one NoIngressIP, synced once an address appears", async () => {
  const gw = gatewayCache();
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, [], "no request without an IP");
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /apps\/gw/);
  gw.set("10.9.0.3");
  await h.run();
  assertEquals(h.hosts.byHostname()["a.lan"].ipAddress, "10.9.0.3");
});

Deno.test("a hostname at two Gateways' addresses: one entry each, moved in place, removed with its Gateway", async () => {
  const gw = gatewayCache();
  gw.set("10.9.1.1");
  gw.set("10.9.1.2", "internal");
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan"], ["internal"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  const at = () => [...h.hosts.entries.values()].map((e) => [e.hostname, e.ipAddress]).sort();
  assertEquals(at(), [["a.lan", "10.9.1.1"], ["a.lan", "10.9.1.2"]]);
  const ids = h.kube.annotation()!;
  const first = h.hosts.byHostname()["a.lan"];
  const byIp = Object.fromEntries([...h.hosts.entries.values()].map((e) => [e.ipAddress, e.id]));
  assertEquals(ids, {
    "a.lan": byIp["10.9.1.1"],
    [`a.lan (${byIp["10.9.1.2"]})`]: byIp["10.9.1.2"],
  });
  assertOk(first !== undefined);

  h.hosts.calls = [];
  await h.run();
  assertEquals(h.hosts.calls.filter((c) => c !== "GetHost"), [], "in sync: reads only");

  gw.set("10.9.1.3", "internal");
  await h.run();
  assertEquals(at(), [["a.lan", "10.9.1.1"], ["a.lan", "10.9.1.3"]]);
  assertEquals(h.hosts.entries.get(byIp["10.9.1.2"])!.ipAddress, "10.9.1.3", "updated in place");
  assertEquals(h.kube.annotation(), ids);

  // Gateway internal withdraws its acceptance: the entry only it justified goes.
  h.kube.edit((o) => {
    const parents = (o.status as { parents: { conditions: unknown[] }[] }).parents;
    parents[1].conditions = [{
      type: "Accepted",
      status: "False",
      reason: "NotAllowedByListeners",
    }];
  });
  await h.run();
  assertEquals(at(), [["a.lan", "10.9.1.1"]]);
  assertEquals(h.kube.annotation(), { "a.lan": byIp["10.9.1.1"] });
});

Deno.test("Gateway routes adopt the Go operator's entries and refuse a foreign comment", async () => {
  const hosts = new FakeHosts();
  const go = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-gateway:apps/web",
    tags: ["kubernetes", "gateway", "grpcroute"],
  });
  const foreign = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s-gateway:other/web",
    tags: ["kubernetes", "gateway", "grpcroute"],
  });
  const h = harness(gatewayRoute("GRPCRoute", ["a.lan", "b.lan"]), {
    kind: GRPCROUTE,
    hosts,
    cached: gatewayCache().cached,
  });
  await h.run();
  assertEquals(h.kube.annotation(), { "a.lan": go.id }, "adopted, not duplicated");
  assertEquals(h.hosts.entries.size, 2);
  assertEquals(h.events.reasons(), ["HostnameConflict"], "another route's entry: a conflict");
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals([...hosts.entries.keys()], [foreign.id], "the foreign entry is never deleted");
  assertEquals(h.kube.obj.metadata!.finalizers, []);
});

Deno.test("Gateway routes: an entry of another route kind with the same name is not ours", async () => {
  const hosts = new FakeHosts();
  hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-gateway:apps/web",
    tags: ["kubernetes", "gateway", "httproute"],
  });
  const h = harness(gatewayRoute("TLSRoute", ["a.lan"]), {
    kind: TLSROUTE,
    hosts,
    cached: gatewayCache().cached,
  });
  await h.run();
  assertEquals(h.hosts.entries.size, 1);
  assertEquals(h.events.reasons(), ["HostnameConflict"]);
});

// ------------------------------------------------ policy (policy.ts) through the engine
