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
import type { KubeObject } from "../../k8s/resource.ts";
import { type ObjectView, viewOf } from "../../k8s/view.ts";
import { hostnameProblem } from "../rules.ts";
import {
  firstCandidate,
  fixedCandidate,
  IP_ADDRESS_ANNOTATION,
  type IpCandidate,
  loadBalancerCandidate,
  type LoadBalancerIngress,
  loadBalancerIngress,
} from "../ip_source.ts";

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
  /** The override annotation's value. */
  ipOverride?: string;
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
  if (annotations[IP_ADDRESS_ANNOTATION] !== undefined) {
    fields.ipOverride = annotations[IP_ADDRESS_ANNOTATION];
  }
  return fields;
}

/** The cached view of an Ingress: metadata plus {@link IngressFields}. */
export interface IngressView extends ObjectView, IngressFields {}

/** Keeps what the Ingress source needs; `ignored` annotations stay out of the fingerprint. */
export function projectIngress(obj: KubeObject, ignored: readonly string[] = []): IngressView {
  return { ...viewOf(obj, ignored), ...ingressFields(obj) };
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
 * Where the Ingress's IP comes from: its LoadBalancer status, then the
 * override annotation, then `clusterDefault` (the ingress Service's or the
 * flag's address); undefined when none is set.
 */
export function ingressIpCandidate(
  fields: IngressFields,
  clusterDefault: IpCandidate | undefined,
): IpCandidate | undefined {
  return firstCandidate([
    loadBalancerCandidate(fields.loadBalancer, "status.loadBalancer.ingress"),
    fixedCandidate(fields.ipOverride, `annotation ${IP_ADDRESS_ANNOTATION}`),
    clusterDefault,
  ]);
}
