import type { WatchedKind } from "../../k8s/builder.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import { assertEquals, assertMatch, assertOk } from "../../tests/assert.ts";
import { fakeContext } from "../../tests/fakes/source_context.ts";
import { HOST_IDS_ANNOTATION } from "../engine/host_ids.ts";
import { needsReconcile, type SourceContext } from "../engine/source.ts";
import {
  GATEWAY_ROUTES,
  GATEWAYS,
  type GatewayView,
  GRPCROUTE,
  HTTPROUTE,
  projectGateway,
  projectRoute,
  routeHostnames,
  TLSROUTE,
} from "./gateway.ts";

function httpRoute(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "web", namespace: "apps", uid: "u", resourceVersion: "1", ...meta },
    spec: { rules: [{ backendRefs: [{ name: "svc", port: 80 }] }], ...spec },
  };
}

function context(gateways: Record<string, GatewayView>, defaultIngressIP = ""): SourceContext {
  return fakeContext({
    defaultIngressIP,
    cached: <W>(kind: WatchedKind<W>, key: string) =>
      (kind === (GATEWAYS as WatchedKind<unknown>) ? gateways[key] : undefined) as W | undefined,
  });
}

Deno.test("Go-compatible facts: finalizer, comment, tags, adoption tags, v1", () => {
  assertEquals(GATEWAY_ROUTES.map((s) => s.resource.kind), ["HTTPRoute", "GRPCRoute", "TLSRoute"]);
  for (const s of GATEWAY_ROUTES) {
    const tag = s.resource.kind.toLowerCase();
    assertEquals(s.finalizer, "router-hosts.fzymgc.house/gateway-cleanup");
    assertEquals(s.comment("apps", "web"), "k8s-gateway:apps/web");
    assertEquals(s.tags, ["kubernetes", "gateway", tag]);
    assertEquals(s.adoptTags, ["gateway", tag]);
    assertEquals(`${s.resource.group}/${s.resource.version}`, "gateway.networking.k8s.io/v1");
  }
  assertEquals([GRPCROUTE.resource.plural, TLSROUTE.resource.plural], ["grpcroutes", "tlsroutes"]);
});

Deno.test("parentRefs: Gateways only, namespace defaults to the route's, in order, once each", () => {
  const v = projectRoute(httpRoute({
    parentRefs: [
      { name: "gw" },
      { name: "shared", namespace: "infra", sectionName: "https" },
      { name: "mesh-svc", kind: "Service", group: "" },
      { name: "other", group: "example.com", kind: "Gateway" },
      { name: "gw", group: "gateway.networking.k8s.io", kind: "Gateway" },
      { namespace: "x" },
    ],
  }));
  assertEquals(v.parents, ["apps/gw", "infra/shared"]);
  assertEquals(HTTPROUTE.dependsOn![0].refs(v), ["apps/gw", "infra/shared"]);
});

Deno.test("Gateway address: first IPAddress (or untyped) value that is an IP", () => {
  const gw = (addresses: unknown) => projectGateway({ metadata: {}, status: { addresses } });
  assertEquals(gw([{ type: "Hostname", value: "lb.example.com" }, { value: "10.0.0.9" }]), {
    ip: "10.0.0.9",
  });
  assertEquals(gw([{ type: "IPAddress", value: "fd00::1" }]), { ip: "fd00::1" });
  assertEquals(gw([{ value: "not-an-ip" }, { type: "NamedAddress", value: "10.0.0.1" }]), {});
  assertEquals(gw(undefined), {});
});

Deno.test("hostnames: wildcards skipped silently, invalid names reported, duplicates once", () => {
  const d = routeHostnames(projectRoute(httpRoute({
    hostnames: ["a.example.com", "*.example.com", "A.example.com", "bad_name.lan", "b"],
  })));
  assertEquals(d.hosts, ["a.example.com", "b"]);
  assertEquals(d.problems.map((p) => [p.reason, p.fields.value]), [[
    "InvalidHostname",
    "bad_name.lan",
  ]]);
  assertEquals(d.incomplete, undefined);
});

Deno.test("IP: first parent Gateway with an address, then --default-ingress-ip, else NoIngressIP", async () => {
  const v = projectRoute(httpRoute({ parentRefs: [{ name: "a" }, { name: "b" }] }));
  assertEquals(
    await HTTPROUTE.ingressIP(v, context({ "apps/a": {}, "apps/b": { ip: "10.0.0.2" } })),
    { ip: "10.0.0.2" },
  );
  assertEquals(
    await HTTPROUTE.ingressIP(v, context({ "apps/a": { ip: "10.0.0.1" }, "apps/b": { ip: "x" } })),
    { ip: "10.0.0.1" },
  );
  assertEquals(await HTTPROUTE.ingressIP(v, context({}, "192.168.1.2")), { ip: "192.168.1.2" });
  const none = await HTTPROUTE.ingressIP(v, context({}));
  assertOk("missing" in none);
  assertMatch(none.missing, /apps\/a, apps\/b.*--default-ingress-ip is not set/);
});

Deno.test("a route change wakes the controller; our annotation and finalizer do not", () => {
  const a = projectRoute(httpRoute({ hostnames: ["a.lan"] }));
  const ours = projectRoute(httpRoute({ hostnames: ["a.lan"] }, {
    resourceVersion: "2",
    finalizers: [HTTPROUTE.finalizer],
    annotations: { [HOST_IDS_ANNOTATION]: '{"a.lan":"X"}' },
  }));
  assertEquals(needsReconcile(HTTPROUTE.finalizer, a, ours), false);
  assertOk(needsReconcile(HTTPROUTE.finalizer, ours, a), "our finalizer removed by someone");
  assertOk(
    needsReconcile(HTTPROUTE.finalizer, a, projectRoute(httpRoute({ hostnames: ["b.lan"] }))),
  );
  assertOk(
    needsReconcile(
      HTTPROUTE.finalizer,
      a,
      projectRoute(httpRoute({ hostnames: ["a.lan"], parentRefs: [{ name: "gw" }] })),
    ),
  );
});

Deno.test("the override annotation wins over the parent Gateway's address", async () => {
  const v = projectRoute(
    httpRoute({ parentRefs: [{ name: "a" }], hostnames: ["a.lan"] }, {
      annotations: { "router-hosts.fzymgc.house/ip-address": "10.7.7.7" },
    }),
  );
  assertEquals(await HTTPROUTE.ingressIP(v, context({ "apps/a": { ip: "10.0.0.1" } })), {
    ip: "10.7.7.7",
    from: "annotation router-hosts.fzymgc.house/ip-address",
  });
});
