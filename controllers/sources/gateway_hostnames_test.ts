/**
 * Table tests of the Gateway API hostname and listener rules. Each case
 * names where it comes from: a conformance manifest of the Gateway API
 * (module `sigs.k8s.io/gateway-api/conformance@v1.6.3`, `tests/*.yaml` and
 * `base/manifests.yaml`, with the expectations of the matching `.go` test)
 * or the API documentation (module `sigs.k8s.io/gateway-api@v1.6.3`,
 * `apis/v1/*.go` comments).
 */
import { assertEquals } from "../../tests/assert.ts";
import {
  attachedListeners,
  type AttachingRoute,
  hostnamesOnListener,
  intersectHostname,
  type ListenerRef,
  type ListenerView,
  selectorMatches,
} from "./gateway_hostnames.ts";

const CONFORMANCE = "sigs.k8s.io/gateway-api/conformance@v1.6.3";
const API_DOCS = "sigs.k8s.io/gateway-api@v1.6.3";
const INFRA = "gateway-conformance-infra";

function listener(name: string, o: Partial<ListenerView> = {}): ListenerView {
  return { name, port: 80, protocol: "HTTP", from: "Same", kinds: [], ...o };
}

const http: AttachingRoute = { kind: "HTTPRoute", namespace: INFRA };

/** The hostnames a route serves through one parentRef of a Gateway in INFRA. */
function served(
  listeners: ListenerView[],
  ref: ListenerRef,
  routeHostnames: string[],
  route: AttachingRoute = http,
): string[] {
  const out: string[] = [];
  for (const l of attachedListeners(listeners, ref, INFRA, route)) {
    for (const h of hostnamesOnListener(routeHostnames, l)) if (!out.includes(h)) out.push(h);
  }
  return out;
}

// ------------------------------------------------ hostname intersection

const intersection = [
  listener("listener-1", { hostname: "very.specific.com" }),
  listener("listener-2", { hostname: "*.wildcard.io" }),
  listener("listener-3", { hostname: "*.anotherwildcard.io" }),
];

const intersectionCases: [string, string[], string[]][] = [
  [
    "specific-host-matches-listener-specific-host",
    ["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"],
    ["very.specific.com"],
  ],
  [
    "specific-host-matches-listener-wildcard-host",
    [
      "non.matching.com",
      "wildcard.io",
      "foo.wildcard.io",
      "bar.wildcard.io",
      "foo.bar.wildcard.io",
    ],
    ["foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"],
  ],
  ["wildcard-host-matches-listener-specific-host", ["non.matching.com", "*.specific.com"], [
    "very.specific.com",
  ]],
  ["wildcard-host-matches-listener-wildcard-host", ["*.anotherwildcard.io"], [
    "*.anotherwildcard.io",
  ]],
  ["no-intersecting-hosts", ["specific.but.wrong.com", "wildcard.io"], []],
];
for (const [name, hostnames, want] of intersectionCases) {
  Deno.test(`${CONFORMANCE} tests/httproute-hostname-intersection.yaml: ${name}`, () => {
    assertEquals(served(intersection, {}, hostnames), want);
  });
}

Deno.test(`${CONFORMANCE} tests/httproute-hostname-intersection.yaml: a listener without hostname matches all`, () => {
  const all = ["first.com", "sub.first.com", "second.com", "sub.second.com"];
  assertEquals(served([listener("listener-1")], {}, all), all);
});

Deno.test(`${API_DOCS} apis/v1/httproute_types.go Hostnames: the documented examples`, () => {
  // "A Listener with `test.example.com` ... matches HTTPRoutes that have either
  // not specified any hostnames, or have specified at least one of
  // `test.example.com` or `*.example.com`."
  assertEquals(intersectHostname("test.example.com", "test.example.com"), "test.example.com");
  assertEquals(intersectHostname("test.example.com", "*.example.com"), "test.example.com");
  assertEquals(hostnamesOnListener([], listener("l", { hostname: "test.example.com" })), [
    "test.example.com",
  ]);
  // "A Listener with `*.example.com` ... `*.example.com`, `test.example.com`, and
  // `foo.test.example.com` would all match. ... `example.com` and
  // `test.example.net` would not match."
  for (const h of ["*.example.com", "test.example.com", "foo.test.example.com"]) {
    assertEquals(intersectHostname("*.example.com", h), h, h);
  }
  for (const h of ["example.com", "test.example.net"]) {
    assertEquals(intersectHostname("*.example.com", h), undefined, h);
  }
  // "if a Listener specified `*.example.com`, and the HTTPRoute specified
  // `test.example.com` and `test.example.net`, `test.example.net` must not be
  // considered for a match."
  assertEquals(
    hostnamesOnListener(
      ["test.example.com", "test.example.net"],
      listener("l", { hostname: "*.example.com" }),
    ),
    ["test.example.com"],
  );
  // Two wildcards: the more specific one is what both serve.
  assertEquals(intersectHostname("*.example.com", "*.foo.example.com"), "*.foo.example.com");
  assertEquals(intersectHostname("*.foo.example.com", "*.example.com"), "*.foo.example.com");
  // Hostnames compare case-insensitively (RFC 1123); the specific one keeps its spelling.
  assertEquals(intersectHostname("*.Example.com", "App.example.COM"), "App.example.COM");
});

// ------------------------------------------------ listener selection

Deno.test(`${CONFORMANCE} tests/httproute-listener-hostname-matching.yaml: sectionName selects the listener; no route hostnames → the listener's`, () => {
  const ls = [
    listener("listener-1", { hostname: "bar.com" }),
    listener("listener-2", { hostname: "foo.bar.com" }),
    listener("listener-3", { hostname: "*.bar.com" }),
    listener("listener-4", { hostname: "*.foo.com" }),
  ];
  assertEquals(served(ls, { sectionName: "listener-1" }, []), ["bar.com"]);
  assertEquals(served(ls, { sectionName: "listener-2" }, []), ["foo.bar.com"]);
  // Two parentRefs (listener-3, listener-4): wildcards only, which no hosts entry can be.
  assertEquals(
    [
      ...served(ls, { sectionName: "listener-3" }, []),
      ...served(ls, { sectionName: "listener-4" }, []),
    ],
    ["*.bar.com", "*.foo.com"],
  );
  assertEquals(served(ls, { sectionName: "no-such-listener" }, []), []);
});

Deno.test(`${CONFORMANCE} tests/httproute-listener-port-matching.yaml: port selects listeners, with sectionName both`, () => {
  const ls = [
    listener("listener-1", { port: 80, hostname: "foo.com" }),
    listener("listener-2", { port: 8080, hostname: "foo.com" }),
    listener("listener-3", { port: 8080, hostname: "bar.com" }),
    listener("listener-4", { port: 8090, hostname: "foo.com" }),
    listener("listener-5", { port: 8090, hostname: "bar.com" }),
  ];
  assertEquals(served(ls, { port: 80 }, []), ["foo.com"]);
  assertEquals(served(ls, { port: 8080 }, []), ["foo.com", "bar.com"]);
  assertEquals(served(ls, { port: 8090, sectionName: "listener-4" }, []), ["foo.com"]);
});

Deno.test(`${CONFORMANCE} tests/httproute-disallowed-kind.yaml: allowedRoutes.kinds without the route's kind admits nothing`, () => {
  const tls = listener("tls", {
    port: 443,
    protocol: "TLS",
    kinds: [{ group: "gateway.networking.k8s.io", kind: "TLSRoute" }],
  });
  assertEquals(attachedListeners([tls], {}, INFRA, http), []);
  assertEquals(
    attachedListeners([tls], {}, INFRA, { kind: "TLSRoute", namespace: INFRA }).length,
    1,
  );
});

Deno.test("protocols (external-dns's table, docs/sources/gateway.md): HTTP/HTTPS for HTTP and gRPC routes, TLS for TLSRoute", () => {
  const ls = [
    listener("http", { protocol: "HTTP", hostname: "h.lan" }),
    listener("https", { protocol: "HTTPS", port: 443, hostname: "s.lan" }),
    listener("tls", { protocol: "TLS", port: 443, hostname: "t.lan" }),
    listener("tcp", { protocol: "TCP", port: 22 }),
  ];
  const names = (kind: string) =>
    attachedListeners(ls, {}, INFRA, { kind, namespace: INFRA }).map((l) => l.name);
  assertEquals(names("HTTPRoute"), ["http", "https"]);
  assertEquals(names("GRPCRoute"), ["http", "https"]);
  assertEquals(names("TLSRoute"), ["tls"]);
});

Deno.test(`${CONFORMANCE} base/manifests.yaml: allowedRoutes.namespaces Same (default), All, Selector`, () => {
  const backend = { "gateway-conformance": "backend" };
  const same = listener("same");
  const all = listener("all", { from: "All" });
  // Gateway backend-namespaces: routes in namespaces labelled gateway-conformance=backend.
  const selector = listener("http", {
    from: "Selector",
    selector: { matchLabels: { "gateway-conformance": "backend" } },
  });
  const at = (namespace: string, namespaceLabels?: Record<string, string>) =>
    attachedListeners([same, all, selector], {}, INFRA, {
      kind: "HTTPRoute",
      namespace,
      namespaceLabels,
    }).map((l) => l.name);
  assertEquals(at(INFRA, { "gateway-conformance": "infra" }), ["same", "all"]);
  assertEquals(at("gateway-conformance-app-backend", backend), ["all", "http"]);
  assertEquals(at("elsewhere", {}), ["all"]);
  assertEquals(at("gateway-conformance-app-backend", undefined), ["all"], "labels unknown yet");
  const unknownFrom = listener("weird", { from: "None" });
  assertEquals(
    attachedListeners([unknownFrom], {}, INFRA, http),
    [],
    "an unknown value admits nothing",
  );
});

Deno.test(`${CONFORMANCE} tests/gateway-with-attached-routes.yaml: Selector on kubernetes.io/metadata.name`, () => {
  const l = listener("http", {
    hostname: "foo.example.com",
    from: "Selector",
    selector: { matchLabels: { "kubernetes.io/metadata.name": INFRA } },
  });
  const labels = { "kubernetes.io/metadata.name": INFRA };
  assertEquals(served([l], {}, [], { ...http, namespaceLabels: labels }), ["foo.example.com"]);
});

Deno.test("label selectors (Kubernetes LabelSelector): matchLabels AND matchExpressions", () => {
  const labels = { env: "prod", team: "web" };
  assertEquals(selectorMatches({}, labels), true, "empty selector matches everything");
  assertEquals(selectorMatches(undefined, labels), false, "no selector matches nothing");
  const expr = (operator: string, values?: string[], key = "env") => ({
    matchExpressions: [{ key, operator, values }],
  });
  assertEquals(selectorMatches(expr("In", ["prod", "dev"]), labels), true);
  assertEquals(selectorMatches(expr("In", ["dev"]), labels), false);
  assertEquals(selectorMatches(expr("NotIn", ["dev"]), labels), true);
  assertEquals(selectorMatches(expr("NotIn", ["dev"], "missing"), labels), true);
  assertEquals(selectorMatches(expr("Exists", undefined, "team"), labels), true);
  assertEquals(selectorMatches(expr("DoesNotExist", undefined, "team"), labels), false);
  assertEquals(selectorMatches(expr("Gt", ["1"]), labels), false, "unknown operator");
  assertEquals(
    selectorMatches({ matchLabels: { env: "prod" }, ...expr("In", ["ops"], "team") }, labels),
    false,
  );
});
