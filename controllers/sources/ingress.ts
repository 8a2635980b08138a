/**
 * The Ingress source (`networking.k8s.io/v1`, `--enable-ingress`; the Go
 * operator has none): every `spec.rules[].host` becomes an entry with
 * comment `k8s-ingress-v1:<namespace>/<name>` and tags kubernetes,
 * ingress-v1. `--ingress-class` (repeatable) limits it to Ingresses of those
 * classes (`spec.ingressClassName`, or the legacy annotation
 * `kubernetes.io/ingress.class`); an Ingress that leaves the classes is
 * treated as deleted (entries deleted, finalizer removed).
 *
 * IP: the Ingress's own LoadBalancer status (an IP, or a hostname resolved
 * with DNS), then the override annotation `router-hosts.fzymgc.house/ip-address`,
 * then the cluster's ingress IP (`--ingress-service`, then `--default-ingress-ip`).
 *
 * @module
 */
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { hostnameProblem } from "../hosts/hostname.ts";
import {
  firstCandidate,
  fixedCandidate,
  IP_ADDRESS_ANNOTATION,
  type IpCandidate,
  loadBalancerCandidate,
  type LoadBalancerIngress,
  loadBalancerIngress,
  resolveIngressIP,
} from "../engine/ip_source.ts";
import { type DesiredHosts, type Source, type SourceView, sourceViewOf } from "../engine/source.ts";

/** networking.k8s.io/v1 Ingresses. */
export const INGRESSES: ResourceType = {
  group: "networking.k8s.io",
  version: "v1",
  plural: "ingresses",
  kind: "Ingress",
  namespaced: true,
};

/** The class annotation Ingresses used before `spec.ingressClassName`. */
export const LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class";
/** Held until every entry of the Ingress is deleted. */
export const INGRESS_FINALIZER = "router-hosts.fzymgc.house/ingress-cleanup";
/** Tags of every entry; `ingress-v1` also marks an entry as adoptable. */
export const INGRESS_V1_TAGS: readonly string[] = ["kubernetes", "ingress-v1"];

/** The owner comment of the entries of `namespace/name`. */
export function ingressV1Comment(namespace: string, name: string): string {
  return `k8s-ingress-v1:${namespace}/${name}`;
}

/** What the Ingress source keeps of an Ingress. */
export interface IngressFields {
  /** `spec.ingressClassName`, else the legacy annotation; undefined when neither. */
  className?: string;
  /** `spec.rules[].host`; null where a rule has none (it matches every host). */
  hosts: (string | null)[];
  loadBalancer: LoadBalancerIngress[];
}

/** The fields of `obj` the Ingress source reads. */
export function ingressFields(obj: KubeObject): IngressFields {
  const spec = (obj.spec ?? {}) as { ingressClassName?: unknown; rules?: unknown };
  const annotations = obj.metadata?.annotations ?? {};
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  const fields: IngressFields = {
    hosts: rules.map((r) => {
      const host = (r as { host?: unknown } | null)?.host;
      return typeof host === "string" && host !== "" ? host : null;
    }),
    loadBalancer: loadBalancerIngress(obj),
  };
  const className = typeof spec.ingressClassName === "string" && spec.ingressClassName !== ""
    ? spec.ingressClassName
    : annotations[LEGACY_CLASS_ANNOTATION];
  if (className) fields.className = className;
  return fields;
}

/** The cached view of an Ingress: metadata plus {@link IngressFields}. */
export interface IngressView extends SourceView, IngressFields {}

/** Keeps what the Ingress source needs. */
export function projectIngress(obj: KubeObject): IngressView {
  return { ...sourceViewOf(obj), ...ingressFields(obj) };
}

/**
 * True when `--ingress-class` selects the Ingress: any class when none is
 * given; else its class must be one of them (an Ingress without a class is
 * then left alone: another controller's default class may serve it).
 */
export function classSelected(fields: IngressFields, classes: readonly string[]): boolean {
  return classes.length === 0 ||
    (fields.className !== undefined && classes.includes(fields.className));
}

/** A rule host that is not synced, and why. */
export interface SkippedIngressHost {
  rule: number;
  value: string;
  reason: string;
}

/** The hostnames of an Ingress (case-insensitively unique, first spelling kept) and what was skipped. */
export function ingressHostnames(
  fields: IngressFields,
): { hosts: string[]; skipped: SkippedIngressHost[] } {
  const hosts: string[] = [];
  const skipped: SkippedIngressHost[] = [];
  const seen = new Set<string>();
  fields.hosts.forEach((value, rule) => {
    // A rule without host, or a wildcard, names no single host: nothing to publish.
    if (value === null || value.startsWith("*")) return;
    const problem = hostnameProblem(value);
    if (problem) {
      skipped.push({ rule, value, reason: `not a valid hostname: ${problem}` });
      return;
    }
    if (seen.has(value.toLowerCase())) return;
    seen.add(value.toLowerCase());
    hosts.push(value);
  });
  return { hosts, skipped };
}

/**
 * Where the Ingress's own IP comes from: its LoadBalancer status, then the
 * override annotation; undefined when neither is set (the cluster's ingress
 * IP is used then).
 */
export function ingressIpCandidate(view: IngressView): IpCandidate | undefined {
  return firstCandidate([
    loadBalancerCandidate(view.loadBalancer, "status.loadBalancer.ingress"),
    fixedCandidate(view.ipOverride, `annotation ${IP_ADDRESS_ANNOTATION}`),
  ]);
}

function desiredHosts(view: IngressView): DesiredHosts {
  const { hosts, skipped } = ingressHostnames(view);
  return {
    hosts,
    problems: skipped.map((s) => ({
      reason: "InvalidHostname",
      message: `rule ${s.rule}: ${
        JSON.stringify(s.value)
      } is not synced to router-hosts: ${s.reason}`,
      fields: { rule: s.rule, value: s.value, reason: s.reason },
    })),
  };
}

/** The Ingress source for `--ingress-class` values `classes` (empty: all). */
export function ingressSource(classes: readonly string[]): Source<IngressView> {
  return {
    resource: INGRESSES,
    controller: "ingress",
    crdProvider: "Kubernetes",
    finalizer: INGRESS_FINALIZER,
    comment: ingressV1Comment,
    tags: INGRESS_V1_TAGS,
    adoptTags: ["ingress-v1"],
    project: projectIngress,
    selected: (view) => classSelected(view, classes),
    desiredHosts,
    ingressIP: (view, context) => {
      const own = ingressIpCandidate(view);
      return own ? resolveIngressIP(own, context.dns) : context.clusterIngressIP();
    },
    followsClusterIP: (view) => ingressIpCandidate(view) === undefined,
  };
}
