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
  NAMESPACES,
  projectGateway,
  projectRoute,
  TLSROUTE,
} from "./gateway.ts";
import type { ListenerView } from "./gateway_hostnames.ts";

const accepted = (parentRef: Record<string, unknown>, status = "True") => ({
  parentRef,
  controllerName: "example.com/gateway",
  conditions: [{ type: "Accepted", status }],
});

/** An HTTPRoute in apps; parentRefs accepted unless `status` says otherwise. */
function httpRoute(
  spec: Record<string, unknown>,
  meta: Record<string, unknown> = {},
  status?: Record<string, unknown>,
): KubeObject {
  const refs = (spec.parentRefs ?? [{ name: "gw" }]) as Record<string, unknown>[];
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "web", namespace: "apps", uid: "u", resourceVersion: "1", ...meta },
    spec: { parentRefs: refs, rules: [{ backendRefs: [{ name: "svc", port: 80 }] }], ...spec },
    status: status ?? { parents: refs.map((r) => accepted(r)) },
  };
}

const listener = (name: string, o: Partial<ListenerView> = {}): ListenerView => ({
  name,
  port: 80,
  protocol: "HTTP",
  from: "All",
  kinds: [],
  ...o,
});

function context(
  gateways: Record<string, GatewayView>,
  o: {
    defaultIngressIP?: string;
    dns?: Record<string, string[]>;
    labels?: Record<string, string>;
  } = {},
): SourceContext {
  return fakeContext({
    defaultIngressIP: o.defaultIngressIP ?? "",
    dns: o.dns,
    cached: <W>(kind: WatchedKind<W>, key: string) =>
      (kind === (GATEWAYS as WatchedKind<unknown>)
        ? gateways[key]
        : kind === (NAMESPACES as WatchedKind<unknown>) && key === "apps" && o.labels
        ? { labels: o.labels }
        : undefined) as W | undefined,
  });
}

const open: GatewayView = { listeners: [listener("http")], address: { ip: "10.0.0.1" } };

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

Deno.test("parentRefs: Gateways only, once each; accepted where status.parents says Accepted=True", () => {
  const refs = [
    { name: "gw" },
    { name: "shared", namespace: "infra", sectionName: "https" },
    { name: "mesh-svc", kind: "Service", group: "" },
    { name: "other", group: "example.com", kind: "Gateway" },
    { name: "gw", group: "gateway.networking.k8s.io", kind: "Gateway" },
    { name: "waiting", port: 8443 },
    { namespace: "x" },
  ];
  const v = projectRoute(httpRoute({ parentRefs: refs }, {}, {
    parents: [
      accepted({ name: "gw", namespace: "apps" }),
      // Another section of the same Gateway: not the parentRef the route names.
      accepted({ name: "shared", namespace: "infra", sectionName: "http" }),
      accepted({ name: "waiting", port: 8443 }, "False"),
      accepted({ name: "mesh-svc", kind: "Service", group: "" }),
    ],
  }));
  assertEquals(v.parents, [
    { gateway: "apps/gw", accepted: true },
    { gateway: "infra/shared", sectionName: "https", accepted: false },
    { gateway: "apps/waiting", port: 8443, accepted: false },
  ]);
  assertEquals(HTTPROUTE.dependsOn![0].refs(v), ["apps/gw", "infra/shared", "apps/waiting"]);
  assertEquals(HTTPROUTE.dependsOn![1].refs(v), ["apps"], "its namespace's labels");
});

Deno.test("Gateway: listeners with allowedRoutes; address IPAddress (or untyped), else Hostname", () => {
  const gw = (addresses: unknown, listeners: unknown = []) =>
    projectGateway({ metadata: {}, spec: { listeners }, status: { addresses } });
  assertEquals(gw([{ type: "Hostname", value: "lb.example.com" }, { value: "10.0.0.9" }]).address, {
    ip: "10.0.0.9",
  });
  assertEquals(gw([{ type: "IPAddress", value: "fd00::1" }]).address, { ip: "fd00::1" });
  assertEquals(gw([{ type: "Hostname", value: "lb.example.com" }]).address, {
    hostname: "lb.example.com",
  });
  assertEquals(
    gw([{ value: "not-an-ip" }, { type: "NamedAddress", value: "10.0.0.1" }]).address,
    undefined,
  );
  assertEquals(gw(undefined).address, undefined);
  assertEquals(
    gw([], [
      { name: "a", port: 443, protocol: "HTTPS", hostname: "*.lan" },
      {
        name: "b",
        port: 80,
        protocol: "HTTP",
        allowedRoutes: {
          namespaces: { from: "Selector", selector: { matchLabels: { team: "web" } } },
          kinds: [{ kind: "HTTPRoute" }],
        },
      },
      { port: 80 },
    ]).listeners,
    [
      { name: "a", port: 443, protocol: "HTTPS", hostname: "*.lan", from: "Same", kinds: [] },
      {
        name: "b",
        port: 80,
        protocol: "HTTP",
        from: "Selector",
        selector: { matchLabels: { team: "web" } },
        kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
      },
    ],
  );
});

const desired = (obj: KubeObject, ctx: SourceContext) =>
  HTTPROUTE.desiredHosts(HTTPROUTE.project(obj), ctx);
const reasons = (d: { problems: { reason: string; type?: string }[] }) =>
  d.problems.map((p) => `${p.type ?? "Warning"} ${p.reason}`);

Deno.test("item 1: no Gateway parent (a GAMMA mesh route) → nothing, one Normal NoGatewayParent", () => {
  const mesh = httpRoute({
    parentRefs: [{ name: "svc", kind: "Service", group: "" }],
    hostnames: ["a.lan"],
  });
  const d = desired(mesh, context({ "apps/gw": open }, { defaultIngressIP: "10.9.9.9" }));
  assertEquals(d.hosts, []);
  assertEquals(reasons(d), ["Normal NoGatewayParent"]);
});

Deno.test("item 2: a parent that has not accepted the route waits (Normal NotAccepted); Accepted=False too", () => {
  const ctx = context({ "apps/gw": open, "apps/b": open });
  const pending = httpRoute({ hostnames: ["a.lan"] }, {}, { parents: [] });
  assertEquals(desired(pending, ctx).hosts, []);
  assertEquals(reasons(desired(pending, ctx)), ["Normal NotAccepted"]);
  const refused = httpRoute({ hostnames: ["a.lan"] }, {}, {
    parents: [accepted({ name: "gw" }, "False")],
  });
  assertEquals(desired(refused, ctx).hosts, []);
  // One of two parents accepted: its hostnames, and a note about the other.
  const half = httpRoute(
    { hostnames: ["a.lan"], parentRefs: [{ name: "gw" }, { name: "b" }] },
    {},
    {
      parents: [accepted({ name: "b" })],
    },
  );
  assertEquals(desired(half, ctx).hosts, ["a.lan"]);
  assertMatch(desired(half, ctx).problems[0].message, /Gateway apps\/gw/);
});

Deno.test("item 3: hostnames intersected with the attached listeners; none → the listeners'; wildcards skipped with one Event", () => {
  const gw: GatewayView = {
    listeners: [
      listener("app", { hostname: "app.home.arpa" }),
      listener("wild", { hostname: "*.example.com" }),
      listener("tls", { protocol: "TLS", hostname: "tls.lan" }),
    ],
  };
  const ctx = context({ "apps/gw": gw });
  assertEquals(desired(httpRoute({}), ctx).hosts, ["app.home.arpa"]);
  assertEquals(reasons(desired(httpRoute({}), ctx)), ["Normal WildcardHostname"]);
  const d = desired(
    httpRoute({ hostnames: ["a.example.com", "a.home.arpa", "*.example.com"] }),
    ctx,
  );
  assertEquals(d.hosts, ["a.example.com"]);
  assertEquals(reasons(d), ["Normal WildcardHostname"]);
  assertMatch(d.problems[0].message, /\*\.example\.com/);
  // sectionName selects the listener.
  const one = httpRoute({ parentRefs: [{ name: "gw", sectionName: "app" }], hostnames: ["x.lan"] });
  assertEquals(desired(one, ctx).hosts, []);
  assertEquals(reasons(desired(one, ctx)), ["Normal NoMatchingListener"]);
  // Names the server refuses: InvalidHostname (Warning).
  const bad = context({ "apps/gw": { listeners: [listener("all")] } });
  assertEquals(reasons(desired(httpRoute({ hostnames: ["bad_name.lan", "ok.lan"] }), bad)), [
    "Warning InvalidHostname",
  ]);
});

Deno.test("item 3: allowedRoutes Selector reads the route's namespace labels from the cache", () => {
  const gw: GatewayView = {
    listeners: [listener("sel", {
      hostname: "sel.lan",
      from: "Selector",
      selector: { matchLabels: { team: "web" } },
    })],
  };
  assertEquals(
    desired(httpRoute({}), context({ "apps/gw": gw }, { labels: { team: "web" } })).hosts,
    [
      "sel.lan",
    ],
  );
  assertEquals(
    desired(httpRoute({}), context({ "apps/gw": gw }, { labels: { team: "db" } })).hosts,
    [],
  );
});

Deno.test("item 4: an entry at each accepting Gateway's address; Hostname resolved; default when none has one", async () => {
  const route = HTTPROUTE.project(httpRoute({
    parentRefs: [{ name: "a" }, { name: "b" }, { name: "c" }],
    hostnames: ["both.lan", "only-c.lan"],
  }));
  const l = (hostname?: string) => [listener("l", hostname ? { hostname } : {})];
  const gateways: Record<string, GatewayView> = {
    "apps/a": { listeners: l("both.lan"), address: { ip: "10.0.0.1" } },
    "apps/b": { listeners: l("both.lan"), address: { hostname: "lb.example" } },
    "apps/c": { listeners: l("only-c.lan") },
  };
  const ip = await HTTPROUTE.ingressIP(
    route,
    context(gateways, {
      dns: { "lb.example": ["10.0.0.3", "10.0.0.2"] },
      defaultIngressIP: "10.9.9.9",
    }),
  );
  assertOk("byHost" in ip, JSON.stringify(ip));
  assertEquals(ip.byHost, { "both.lan": ["10.0.0.1", "10.0.0.2"], "only-c.lan": ["10.9.9.9"] });
  const none = await HTTPROUTE.ingressIP(
    route,
    context(gateways, { dns: { "lb.example": ["10.0.0.2"] } }),
  );
  assertOk("missing" in none);
  assertMatch(none.missing, /only-c\.lan \(apps\/c\).*--default-ingress-ip is not set/);
  const dnsDown = await HTTPROUTE.ingressIP(
    route,
    context(gateways, { defaultIngressIP: "10.9.9.9" }),
  );
  assertOk("missing" in dnsDown);
  assertEquals([dnsDown.reason, dnsDown.retry], ["UnresolvableAddress", true]);
});

Deno.test("the override annotation wins over every Gateway's address", async () => {
  const v = projectRoute(
    httpRoute({ hostnames: ["a.lan"] }, {
      annotations: { "router-hosts.fzymgc.house/ip-address": "10.7.7.7" },
    }),
  );
  assertEquals(await HTTPROUTE.ingressIP(v, context({ "apps/gw": open })), {
    ip: "10.7.7.7",
    from: "annotation router-hosts.fzymgc.house/ip-address",
  });
});

Deno.test("a change of the route or of its acceptance wakes the controller; our writes and other status do not", () => {
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
  const withdrawn = projectRoute(httpRoute({ hostnames: ["a.lan"] }, {}, {
    parents: [accepted({ name: "gw" }, "False")],
  }));
  assertOk(needsReconcile(HTTPROUTE.finalizer, a, withdrawn), "acceptance withdrawn");
  const otherCondition = projectRoute(httpRoute({ hostnames: ["a.lan"] }, {}, {
    parents: [{
      ...accepted({ name: "gw" }),
      conditions: [{ type: "Accepted", status: "True" }, { type: "ResolvedRefs", status: "False" }],
    }],
  }));
  assertEquals(needsReconcile(HTTPROUTE.finalizer, a, otherCondition), false);
});
