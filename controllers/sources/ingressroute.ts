/**
 * Traefik's IngressRoute and IngressRouteTCP (`traefik.io/v1alpha1`) as host
 * sources: every hostname a route's `match` names (`Host()` / `HostSNI()`,
 * rules.ts) becomes an entry with the cluster's ingress IP (the
 * `--ingress-service` Service's address, else `--default-ingress-ip`) or the
 * object's override annotation `router-hosts.fzymgc.house/ip-address`, comment
 * `k8s-ingress:<namespace>/<name>` and tags kubernetes, traefik, ingress —
 * the Go operator's format, so its entries are adopted. Both kinds share the
 * comment, so they form one comment group (engine/reconcile.ts).
 *
 * @module
 */
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { parseRule, type RuleKind } from "./traefik_rules.ts";
import { overrideIP } from "../engine/ip_source.ts";
import {
  type DesiredHosts,
  type HostProblem,
  type Source,
  type SourceView,
  sourceViewOf,
} from "../engine/source.ts";

/** The fields of an IngressRoute(TCP) that reconcile reads; all the cache keeps. */
export interface IngressRouteView extends SourceView {
  /** `spec.routes[].match`; null where a route has no string match. */
  matches: (string | null)[];
}

/** Keeps what reconcile needs of an IngressRoute or IngressRouteTCP. */
export function projectIngressRoute(obj: KubeObject): IngressRouteView {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const routes = Array.isArray(spec.routes) ? spec.routes : [];
  return {
    ...sourceViewOf(obj),
    matches: routes.map((r) => {
      const match = (r as Record<string, unknown> | null)?.match;
      return typeof match === "string" ? match : null;
    }),
  };
}

/** The hostnames of every route of `view`; a route that does not parse makes it incomplete. */
export function desiredHostnames(view: IngressRouteView, rule: RuleKind): DesiredHosts {
  const hosts: string[] = [];
  const skipped: HostProblem[] = [];
  const errors: HostProblem[] = [];
  const seen = new Set<string>();
  const invalidRule = (route: number, match: string | null, message: string): HostProblem => ({
    reason: "InvalidRule",
    message: `route ${route}: ${
      match === null ? message : `cannot parse match ${JSON.stringify(match)}: ${message}`
    }; its hosts are not synced, and entries already made are kept until it is fixed`,
    fields: { route, match, error: message },
  });
  view.matches.forEach((match, route) => {
    if (match === null) {
      errors.push(invalidRule(route, match, "the route has no match rule"));
      return;
    }
    const parsed = parseRule(match, rule);
    for (const message of parsed.errors) errors.push(invalidRule(route, match, message));
    for (const s of parsed.skipped) {
      skipped.push({
        reason: "InvalidHostname",
        message: `route ${route}: ${
          JSON.stringify(s.value)
        } is not synced to router-hosts: ${s.reason}`,
        fields: { route, value: s.value, reason: s.reason },
      });
    }
    for (const host of parsed.hosts) {
      if (seen.has(host.toLowerCase())) continue;
      seen.add(host.toLowerCase());
      hosts.push(host);
    }
  });
  return { hosts, problems: [...skipped, ...errors], incomplete: errors.length > 0 };
}

function traefikSource(
  resource: Omit<ResourceType, "group" | "version" | "namespaced">,
  rule: RuleKind,
): Source<IngressRouteView> {
  return {
    resource: { group: "traefik.io", version: "v1alpha1", namespaced: true, ...resource },
    controller: resource.kind.toLowerCase(),
    crdProvider: "Traefik",
    finalizer: "router-hosts.fzymgc.house/ingressroute-cleanup",
    comment: (namespace, name) => `k8s-ingress:${namespace}/${name}`,
    tags: ["kubernetes", "traefik", "ingress"],
    adoptTags: ["traefik", "ingress"],
    project: projectIngressRoute,
    desiredHosts: (view) => desiredHostnames(view, rule),
    ingressIP: (view, context) => overrideIP(view) ?? context.clusterIngressIP(),
    followsClusterIP: (view) => view.ipOverride === undefined,
    commentGroup: "k8s-ingress",
  };
}

/** Traefik's HTTP router: hosts from `Host()`. */
export const INGRESSROUTE: Source<IngressRouteView> = traefikSource(
  { plural: "ingressroutes", kind: "IngressRoute" },
  "http",
);

/** Traefik's TCP router: hosts from `HostSNI()`. */
export const INGRESSROUTETCP: Source<IngressRouteView> = traefikSource(
  { plural: "ingressroutetcps", kind: "IngressRouteTCP" },
  "tcp",
);
