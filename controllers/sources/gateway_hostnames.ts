/**
 * The Gateway API's rules for which hostnames a route serves, pure: which
 * listeners of a Gateway a parentRef attaches the route to (`sectionName`,
 * `port`, the listener's protocol and `allowedRoutes`), and the intersection
 * of the route's `spec.hostnames` with a listener's `hostname` (wildcards as
 * suffix matches; a listener without hostname matches all; a route without
 * hostnames takes the listener's). The rules are those of the Gateway API
 * documentation of `spec.hostnames` and of `allowedRoutes`; where it leaves
 * a choice (the protocols each route kind attaches to), external-dns's
 * Gateway sources are followed. The table tests (gateway_hostnames_test.ts)
 * name the conformance manifest or documentation each case comes from.
 *
 * @module
 */

/** A label selector (`matchLabels`, `matchExpressions`), as written. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** What is kept of one `spec.listeners[]` item of a Gateway. */
export interface ListenerView {
  name: string;
  port: number;
  protocol: string;
  /** Unset: the listener serves every hostname. */
  hostname?: string;
  /** `allowedRoutes.namespaces.from`: Same (the default), All or Selector. */
  from: string;
  /** `allowedRoutes.namespaces.selector`, for `from: Selector`. */
  selector?: LabelSelector;
  /** `allowedRoutes.kinds` (group defaults to gateway.networking.k8s.io); empty: the protocol's kinds. */
  kinds: { group: string; kind: string }[];
}

/** The group of the Gateway API kinds. */
export const GATEWAY_GROUP = "gateway.networking.k8s.io";

/**
 * The listener protocols each route kind attaches to (HTTPS and HTTP alike
 * for HTTP and gRPC routes; TLS for TLSRoute) — external-dns's table.
 */
const PROTOCOLS: Readonly<Record<string, readonly string[]>> = {
  HTTPRoute: ["HTTP", "HTTPS"],
  GRPCRoute: ["HTTP", "HTTPS"],
  TLSRoute: ["TLS"],
};

/** True when `labels` satisfy `selector` (an empty selector matches everything). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    const ok = e.operator === "In"
      ? has && values.includes(labels[e.key])
      : e.operator === "NotIn"
      ? !has || !values.includes(labels[e.key])
      : e.operator === "Exists"
      ? has
      : e.operator === "DoesNotExist"
      ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}

/** The route a parentRef attaches, as the listener rules read it. */
export interface AttachingRoute {
  /** HTTPRoute, GRPCRoute or TLSRoute. */
  kind: string;
  namespace: string;
  /** Labels of the route's namespace; undefined while unknown (a Selector then admits nothing). */
  namespaceLabels?: Readonly<Record<string, string>>;
}

/** The listener selection of a parentRef. */
export interface ListenerRef {
  sectionName?: string;
  port?: number;
}

/** Whether `listener` of a Gateway in `gatewayNamespace` admits `route` (allowedRoutes, protocol). */
export function listenerAdmits(
  listener: ListenerView,
  gatewayNamespace: string,
  route: AttachingRoute,
): boolean {
  if (!(PROTOCOLS[route.kind] ?? []).includes(listener.protocol)) return false;
  if (
    listener.kinds.length > 0 &&
    !listener.kinds.some((k) => k.group === GATEWAY_GROUP && k.kind === route.kind)
  ) return false;
  switch (listener.from) {
    case "All":
      return true;
    case "Same":
      return route.namespace === gatewayNamespace;
    case "Selector":
      return route.namespaceLabels !== undefined &&
        selectorMatches(listener.selector, route.namespaceLabels);
    default:
      return false;
  }
}

/**
 * The listeners a parentRef attaches the route to: those its `sectionName`
 * and `port` select (all when unset) that admit the route.
 */
export function attachedListeners(
  listeners: readonly ListenerView[],
  ref: ListenerRef,
  gatewayNamespace: string,
  route: AttachingRoute,
): ListenerView[] {
  return listeners.filter((l) =>
    (ref.sectionName === undefined || l.name === ref.sectionName) &&
    (ref.port === undefined || l.port === ref.port) &&
    listenerAdmits(l, gatewayNamespace, route)
  );
}

/**
 * The intersection of a listener hostname and a route hostname: the more
 * specific of the two when one matches the other, else undefined. A
 * wildcard (`*.example.com`) is a suffix match: it matches
 * `foo.example.com` and `foo.bar.example.com`, never `example.com`.
 * Compared case-insensitively; the more specific one is returned as written.
 */
export function intersectHostname(
  listener: string | undefined,
  route: string,
): string | undefined {
  if (listener === undefined || listener === "") return route;
  const l = listener.toLowerCase();
  const r = route.toLowerCase();
  if (l === r) return route;
  if (l.startsWith("*.") && r.endsWith(l.slice(1))) return route;
  if (r.startsWith("*.") && l.endsWith(r.slice(1))) return listener;
  return undefined;
}

/**
 * The hostnames a route serves on one listener: its `spec.hostnames`
 * intersected with the listener's hostname; with no route hostnames, the
 * listener's (none when the listener has none either).
 */
export function hostnamesOnListener(
  routeHostnames: readonly string[],
  listener: ListenerView,
): string[] {
  if (routeHostnames.length === 0) return listener.hostname ? [listener.hostname] : [];
  return routeHostnames.flatMap((h) => {
    const served = intersectHostname(listener.hostname, h);
    return served === undefined ? [] : [served];
  });
}
