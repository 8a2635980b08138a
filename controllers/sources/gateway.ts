/**
 * The Gateway API routes (`gateway.networking.k8s.io/v1` HTTPRoute,
 * GRPCRoute, TLSRoute) as host sources, `--enable-gateway`: every name in
 * `spec.hostnames` becomes an entry with comment
 * `k8s-gateway:<namespace>/<name>` and tags kubernetes, gateway and the
 * kind in lower case — the Go operator's format, so its entries are adopted
 * (comment + gateway + kind tag) instead of duplicated.
 *
 * The IP is the first usable `status.addresses[]` entry of the first parent
 * Gateway that has one (parentRefs in order), else `--default-ingress-ip`.
 * Gateways are watched: a change of a Gateway's address re-syncs exactly the
 * routes whose parentRefs name it (engine/wiring.ts keeps that index), so
 * entries follow the address without polling.
 *
 * @module
 */
import { isIP } from "node:net";
import type { WatchedKind } from "../../k8s/builder.ts";
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { hostnameProblem } from "../hosts/hostname.ts";
import { overrideIP } from "../engine/ip_source.ts";
import {
  type DesiredHosts,
  type HostProblem,
  type Source,
  type SourceView,
  sourceViewOf,
} from "../engine/source.ts";

const GROUP = "gateway.networking.k8s.io";

/** What the routes read of a Gateway: the address its entries get, if any. */
export interface GatewayView {
  /** The first `status.addresses[]` value of type IPAddress (or no type) that is an IP. */
  ip?: string;
}

/** Keeps a Gateway's usable address; any other change of a Gateway wakes no route. */
export function projectGateway(obj: KubeObject): GatewayView {
  const status = (obj.status ?? {}) as { addresses?: unknown };
  const addresses = Array.isArray(status.addresses) ? status.addresses : [];
  for (const a of addresses) {
    const { type, value } = (a ?? {}) as { type?: unknown; value?: unknown };
    if (type !== undefined && type !== "IPAddress") continue;
    if (typeof value === "string" && isIP(value) !== 0) return { ip: value };
  }
  return {};
}

/** Gateways, watched for their addresses. */
export const GATEWAYS: WatchedKind<GatewayView> = {
  resource: { group: GROUP, version: "v1", plural: "gateways", kind: "Gateway", namespaced: true },
  project: projectGateway,
};

/** The fields of a route that reconcile reads; all the cache keeps. */
export interface RouteView extends SourceView {
  /** `spec.hostnames` as written. */
  hostnames: string[];
  /** Keys ("namespace/name") of the parent Gateways, in parentRefs order. */
  parents: string[];
}

/** Keeps what reconcile needs of an HTTPRoute, GRPCRoute or TLSRoute. */
export function projectRoute(obj: KubeObject): RouteView {
  const view = sourceViewOf(obj);
  const spec = (obj.spec ?? {}) as { hostnames?: unknown; parentRefs?: unknown };
  const hostnames = Array.isArray(spec.hostnames)
    ? spec.hostnames.filter((h): h is string => typeof h === "string")
    : [];
  const refs = Array.isArray(spec.parentRefs) ? spec.parentRefs : [];
  const parents: string[] = [];
  for (const r of refs) {
    const ref = (r ?? {}) as Record<string, unknown>;
    // A parentRef names a Gateway unless its kind or group says otherwise
    // (e.g. a Service for GAMMA mesh routing: no address to take).
    if ((ref.kind ?? "Gateway") !== "Gateway" || (ref.group ?? GROUP) !== GROUP) continue;
    if (typeof ref.name !== "string" || ref.name === "") continue;
    const namespace = typeof ref.namespace === "string" && ref.namespace !== ""
      ? ref.namespace
      : view.namespace;
    const key = `${namespace}/${ref.name}`;
    if (!parents.includes(key)) parents.push(key);
  }
  return { ...view, hostnames, parents };
}

/**
 * The hostnames of a route: wildcards (`*.example.com`) are skipped without
 * a word — they are normal in the Gateway API and name no single host;
 * names router-hosts would refuse get an InvalidHostname Event.
 */
export function routeHostnames(view: RouteView): DesiredHosts {
  const hosts: string[] = [];
  const problems: HostProblem[] = [];
  const seen = new Set<string>();
  for (const name of view.hostnames) {
    if (name.startsWith("*") || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    const problem = hostnameProblem(name);
    if (problem === null) {
      hosts.push(name);
      continue;
    }
    problems.push({
      reason: "InvalidHostname",
      message: `spec.hostnames: ${JSON.stringify(name)} is not synced to router-hosts: ${problem}`,
      fields: { value: name, reason: problem },
    });
  }
  return { hosts, problems };
}

function routeSource(kind: string, plural: string): Source<RouteView> {
  const resource: ResourceType = { group: GROUP, version: "v1", plural, kind, namespaced: true };
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
    desiredHosts: routeHostnames,
    ingressIP: (view, { cached, defaultIngressIP }) => {
      const override = overrideIP(view);
      if (override) return override;
      for (const parent of view.parents) {
        const ip = cached(GATEWAYS, parent)?.ip;
        if (ip) return { ip };
      }
      if (defaultIngressIP) return { ip: defaultIngressIP };
      return {
        missing: view.parents.length === 0
          ? "the route names no parent Gateway and --default-ingress-ip is not set"
          : `no parent Gateway (${
            view.parents.join(", ")
          }) has an IP address in status.addresses and --default-ingress-ip is not set`,
        fix: "they are synced as soon as a parent Gateway reports an address",
      };
    },
    dependsOn: [{ kind: GATEWAYS, refs: (view) => view.parents }],
  };
}

/** HTTPRoute: hosts from `spec.hostnames`, IP from the parent Gateway. */
export const HTTPROUTE: Source<RouteView> = routeSource("HTTPRoute", "httproutes");
/** GRPCRoute: as HTTPRoute. */
export const GRPCROUTE: Source<RouteView> = routeSource("GRPCRoute", "grpcroutes");
/** TLSRoute: as HTTPRoute (its hostnames are SNI names). */
export const TLSROUTE: Source<RouteView> = routeSource("TLSRoute", "tlsroutes");

/** The route kinds `--enable-gateway` turns on. */
export const GATEWAY_ROUTES: readonly Source<RouteView>[] = [HTTPROUTE, GRPCROUTE, TLSROUTE];
