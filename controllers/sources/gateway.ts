/**
 * The Gateway API routes (`gateway.networking.k8s.io/v1` HTTPRoute,
 * GRPCRoute, TLSRoute) as host sources, `--enable-gateway`, read as the
 * Gateway API means them (the rules: gateway_hostnames.ts):
 *
 * - parents: only parentRefs to a Gateway (group gateway.networking.k8s.io,
 *   kind Gateway, the defaults) count; a route with none (a GAMMA mesh route
 *   whose parent is a Service) creates nothing — one Normal Event;
 * - acceptance: a Gateway parent counts only while the route's
 *   `status.parents` has that parentRef with `Accepted=True` (any
 *   controllerName); the status is part of the cached view, so its change
 *   wakes the route;
 * - hostnames: `spec.hostnames` intersected with the hostnames of the
 *   listeners each accepted parentRef attaches to; no route hostnames → the
 *   listeners' hostnames; a wildcard that remains is skipped (one Event);
 * - IP: per hostname, the address of each accepting Gateway that serves it
 *   (`status.addresses`: the first IPAddress, else the first Hostname
 *   resolved with DNS) — one entry per address; when none of them has an
 *   address, `--default-ingress-ip`; the override annotation wins for all.
 *
 * Entries: comment `k8s-gateway:<namespace>/<name>`, tags kubernetes,
 * gateway and the kind in lower case — the Go operator's format, so its
 * entries are adopted instead of duplicated. Gateways (listeners,
 * addresses) and Namespaces (labels, for `allowedRoutes` selectors) are
 * watched: a change re-syncs exactly the routes that name them.
 *
 * @module
 */
import { isIP } from "node:net";
import type { WatchedKind } from "../../k8s/builder.ts";
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { hostnameProblem } from "../hosts/hostname.ts";
import { type IngressIP, overrideIP, resolveIngressIP } from "../engine/ip_source.ts";
import {
  type DesiredHosts,
  type HostProblem,
  type Source,
  type SourceContext,
  type SourceView,
  sourceViewOf,
} from "../engine/source.ts";
import { listSome } from "../engine/events.ts";
import {
  attachedListeners,
  GATEWAY_GROUP,
  hostnamesOnListener,
  type LabelSelector,
  type ListenerView,
} from "./gateway_hostnames.ts";

/** What the routes read of a Gateway: its listeners and the address its entries get. */
export interface GatewayView {
  listeners: ListenerView[];
  /** The first IPAddress (or untyped) address that is an IP, else the first Hostname address. */
  address?: { ip: string } | { hostname: string };
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {};
const str = (v: unknown): string | undefined => typeof v === "string" && v !== "" ? v : undefined;
const list = (v: unknown): unknown[] => Array.isArray(v) ? v : [];

function projectListener(raw: unknown): ListenerView | undefined {
  const l = record(raw);
  const name = str(l.name);
  if (!name || typeof l.port !== "number") return undefined;
  const allowed = record(l.allowedRoutes);
  const namespaces = record(allowed.namespaces);
  const view: ListenerView = {
    name,
    port: l.port,
    protocol: str(l.protocol) ?? "",
    from: str(namespaces.from) ?? "Same",
    kinds: list(allowed.kinds).flatMap((k) => {
      const kind = str(record(k).kind);
      return kind ? [{ group: str(record(k).group) ?? GATEWAY_GROUP, kind }] : [];
    }),
  };
  const hostname = str(l.hostname);
  if (hostname) view.hostname = hostname;
  if (namespaces.selector !== undefined) {
    view.selector = record(namespaces.selector) as LabelSelector;
  }
  return view;
}

/** Keeps a Gateway's listeners and usable address; any other change of a Gateway wakes no route. */
export function projectGateway(obj: KubeObject): GatewayView {
  const listeners = list(record(obj.spec).listeners).flatMap((l) => projectListener(l) ?? []);
  const addresses = list(record(obj.status).addresses).map(record);
  const ip = addresses.find((a) =>
    (a.type === undefined || a.type === "IPAddress") && isIP(str(a.value) ?? "") !== 0
  );
  if (ip) return { listeners, address: { ip: ip.value as string } };
  const named = addresses.find((a) => a.type === "Hostname" && str(a.value));
  return named ? { listeners, address: { hostname: named.value as string } } : { listeners };
}

/** Gateways, watched for their listeners and addresses. */
export const GATEWAYS: WatchedKind<GatewayView> = {
  resource: {
    group: GATEWAY_GROUP,
    version: "v1",
    plural: "gateways",
    kind: "Gateway",
    namespaced: true,
  },
  project: projectGateway,
};

/** Namespaces, watched for their labels (`allowedRoutes.namespaces.from: Selector`). */
export const NAMESPACES: WatchedKind<{ labels: Record<string, string> }> = {
  resource: {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
  },
  project: (obj) => ({ labels: obj.metadata?.labels ?? {} }),
};

/** One parentRef of a route to a Gateway. */
export interface RouteParent {
  /** The Gateway's key, "namespace/name". */
  gateway: string;
  sectionName?: string;
  port?: number;
  /** `status.parents` has this parentRef with condition Accepted=True. */
  accepted: boolean;
}

/** The fields of a route that reconcile reads; all the cache keeps. */
export interface RouteView extends SourceView {
  /** `spec.hostnames` as written. */
  hostnames: string[];
  /** The parentRefs to a Gateway, in order, once each. */
  parents: RouteParent[];
}

/** A parentRef (spec or status) in a comparable form; undefined when it is not a Gateway. */
function gatewayRef(raw: unknown, routeNamespace: string) {
  const ref = record(raw);
  if ((ref.kind ?? "Gateway") !== "Gateway" || (ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP) {
    return undefined;
  }
  const name = str(ref.name);
  if (!name) return undefined;
  const parent: Omit<RouteParent, "accepted"> = {
    gateway: `${str(ref.namespace) ?? routeNamespace}/${name}`,
  };
  const sectionName = str(ref.sectionName);
  if (sectionName) parent.sectionName = sectionName;
  if (typeof ref.port === "number") parent.port = ref.port;
  return parent;
}

const sameRef = (a: Omit<RouteParent, "accepted">, b: Omit<RouteParent, "accepted">) =>
  a.gateway === b.gateway && a.sectionName === b.sectionName && a.port === b.port;

/** Keeps what reconcile needs of an HTTPRoute, GRPCRoute or TLSRoute. */
export function projectRoute(obj: KubeObject): RouteView {
  const view = sourceViewOf(obj);
  const spec = record(obj.spec);
  const hostnames = list(spec.hostnames).filter((h): h is string => typeof h === "string");
  const accepted = list(record(obj.status).parents).flatMap((p) => {
    const ref = gatewayRef(record(p).parentRef, view.namespace);
    const ok = list(record(p).conditions).some((c) =>
      record(c).type === "Accepted" && record(c).status === "True"
    );
    return ref && ok ? [ref] : [];
  });
  const parents: RouteParent[] = [];
  for (const raw of list(spec.parentRefs)) {
    const ref = gatewayRef(raw, view.namespace);
    if (!ref || parents.some((p) => sameRef(p, ref))) continue;
    parents.push({ ...ref, accepted: accepted.some((a) => sameRef(a, ref)) });
  }
  return { ...view, hostnames, parents };
}

/** The hostnames a route serves (by lower-case name) and which accepting Gateways serve each. */
export interface RouteHosts {
  hosts: Map<string, { hostname: string; gateways: string[] }>;
  problems: HostProblem[];
}

type Cached = SourceContext["cached"];

/** Applies the Gateway API rules to `view` (a route of `kind`) and the cached Gateways. */
export function routeHosts(kind: string, view: RouteView, cached: Cached): RouteHosts {
  const hosts: RouteHosts["hosts"] = new Map();
  const problems: HostProblem[] = [];
  if (view.parents.length === 0) {
    problems.push({
      reason: "NoGatewayParent",
      type: "Normal",
      message: "no parentRef names a Gateway (a route whose parent is a Service is a mesh route, " +
        "which no ingress serves): nothing is synced to router-hosts",
      fields: {},
    });
    return { hosts, problems };
  }
  const waiting = view.parents.filter((p) => !p.accepted).map((p) => p.gateway);
  if (waiting.length > 0) {
    problems.push({
      reason: "NotAccepted",
      type: "Normal",
      message: `not accepted by Gateway ${listSome([...new Set(waiting)])} (no Accepted=True in ` +
        "status.parents): its hostnames are synced when the Gateway accepts the route",
      fields: { gateways: waiting },
    });
  }
  const namespaceLabels = cached(NAMESPACES, view.namespace)?.labels;
  const route = { kind, namespace: view.namespace, namespaceLabels };
  const unattached: string[] = [];
  const wildcards: string[] = [];
  for (const parent of view.parents.filter((p) => p.accepted)) {
    const gateway = cached(GATEWAYS, parent.gateway);
    const gatewayNamespace = parent.gateway.slice(0, parent.gateway.indexOf("/"));
    const listeners = gateway
      ? attachedListeners(gateway.listeners, parent, gatewayNamespace, route)
      : [];
    const served = listeners.flatMap((l) => hostnamesOnListener(view.hostnames, l));
    if (served.length === 0) unattached.push(parent.gateway);
    for (const hostname of served) {
      if (hostname.startsWith("*")) {
        if (!wildcards.includes(hostname)) wildcards.push(hostname);
        continue;
      }
      const lower = hostname.toLowerCase();
      const host = hosts.get(lower) ?? { hostname, gateways: [] };
      if (!host.gateways.includes(parent.gateway)) host.gateways.push(parent.gateway);
      hosts.set(lower, host);
    }
  }
  if (unattached.length > 0) {
    problems.push({
      reason: "NoMatchingListener",
      type: "Normal",
      message:
        `Gateway ${listSome([...new Set(unattached)])} accepted the route, but no listener ` +
        "it attaches to (sectionName, port, protocol, allowedRoutes) names a hostname that " +
        "spec.hostnames matches: nothing is synced for it",
      fields: { gateways: unattached },
    });
  }
  if (wildcards.length > 0) {
    problems.push({
      reason: "WildcardHostname",
      type: "Normal",
      message: `${listSome(wildcards)}: a wildcard names no single host, so it cannot be a ` +
        "hosts entry; list the names in spec.hostnames to sync them",
      fields: { hostnames: wildcards },
    });
  }
  return { hosts, problems };
}

/** The hostnames of a route; names router-hosts would refuse get an InvalidHostname Event. */
export function routeDesiredHosts(kind: string, view: RouteView, cached: Cached): DesiredHosts {
  const { hosts: served, problems } = routeHosts(kind, view, cached);
  const hosts: string[] = [];
  for (const { hostname } of served.values()) {
    const problem = hostnameProblem(hostname);
    if (problem === null) {
      hosts.push(hostname);
      continue;
    }
    problems.push({
      reason: "InvalidHostname",
      message: `${JSON.stringify(hostname)} is not synced to router-hosts: ${problem}`,
      fields: { value: hostname, reason: problem },
    });
  }
  return { hosts, problems };
}

/** The address of a Gateway: as it is, or its Hostname through DNS. */
async function gatewayIP(key: string, context: SourceContext): Promise<IngressIP | undefined> {
  const address = context.cached(GATEWAYS, key)?.address;
  if (!address) return undefined;
  const from = `Gateway ${key}`;
  return "ip" in address
    ? { ip: address.ip, from }
    : await resolveIngressIP({ hostname: address.hostname, from }, context.dns);
}

/**
 * The IPs of a route's entries by hostname: each accepting Gateway's
 * address that serves it; `--default-ingress-ip` when none of them has one.
 */
export async function routeIngressIP(
  kind: string,
  view: RouteView,
  context: SourceContext,
): Promise<IngressIP> {
  const override = overrideIP(view);
  if (override) return override;
  const resolved = new Map<string, IngressIP | undefined>();
  const byHost: Record<string, string[]> = {};
  const from = new Set<string>();
  for (const [lower, { hostname, gateways }] of routeHosts(kind, view, context.cached).hosts) {
    const ips: string[] = [];
    for (const key of gateways) {
      if (!resolved.has(key)) resolved.set(key, await gatewayIP(key, context));
      const ip = resolved.get(key);
      if (ip && "missing" in ip) return ip;
      if (!ip || !("ip" in ip)) continue;
      if (!ips.includes(ip.ip)) ips.push(ip.ip);
      from.add(ip.from ?? key);
    }
    if (ips.length === 0) {
      if (!context.defaultIngressIP) {
        return {
          missing: `no Gateway serving ${hostname} (${
            gateways.join(", ")
          }) has an address in status.addresses and --default-ingress-ip is not set`,
          fix: "they are synced as soon as a Gateway reports an address",
        };
      }
      ips.push(context.defaultIngressIP);
      from.add("--default-ingress-ip");
    }
    byHost[lower] = ips;
  }
  return { byHost, from: [...from].join(", ") };
}

function routeSource(kind: string, plural: string): Source<RouteView> {
  const resource: ResourceType = {
    group: GATEWAY_GROUP,
    version: "v1",
    plural,
    kind,
    namespaced: true,
  };
  const tag = kind.toLowerCase();
  return {
    resource,
    controller: `gateway-${tag}`,
    crdProvider: "Gateway API",
    finalizer: "router-hosts.fzymgc.house/gateway-cleanup",
    comment: (namespace, name) => `k8s-gateway:${namespace}/${name}`,
    tags: ["kubernetes", "gateway", tag],
    adoptTags: ["gateway", tag],
    project: projectRoute,
    desiredHosts: (view, context) => routeDesiredHosts(kind, view, context.cached),
    ingressIP: (view, context) => routeIngressIP(kind, view, context),
    dependsOn: [
      { kind: GATEWAYS, refs: (view) => [...new Set(view.parents.map((p) => p.gateway))] },
      { kind: NAMESPACES, refs: (view) => [view.namespace] },
    ],
  };
}

/** HTTPRoute: hostnames and IPs from the Gateways that accepted it. */
export const HTTPROUTE: Source<RouteView> = routeSource("HTTPRoute", "httproutes");
/** GRPCRoute: as HTTPRoute. */
export const GRPCROUTE: Source<RouteView> = routeSource("GRPCRoute", "grpcroutes");
/** TLSRoute: as HTTPRoute (its hostnames are SNI names, on TLS listeners). */
export const TLSROUTE: Source<RouteView> = routeSource("TLSRoute", "tlsroutes");

/** The route kinds `--enable-gateway` turns on. */
export const GATEWAY_ROUTES: readonly Source<RouteView>[] = [HTTPROUTE, GRPCROUTE, TLSROUTE];
