/**
 * The Service source (`--enable-service`, the Go operator's Service
 * controller): a Service annotated `router-hosts.fzymgc.house/enabled:
 * "true"` of type LoadBalancer or NodePort becomes one entry — hostname from
 * `…/hostname`, aliases from `…/aliases`, IP from `…/ip-address`, else its
 * LoadBalancer status (an IP, or a hostname resolved with DNS).
 *
 * With `--external-dns-annotations`, a LoadBalancer or NodePort Service
 * annotated `external-dns.alpha.kubernetes.io/hostname` is synced as well
 * (first name the hostname, the rest aliases) unless it says `…/enabled:
 * "false"`, and `external-dns.alpha.kubernetes.io/target` supplies the IP
 * after `…/ip-address`. Our own annotations win where both are set.
 *
 * @module
 */
import { isIP } from "node:net";
import type { KubeObject } from "../../k8s/resource.ts";
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
  SERVICES,
} from "../engine/ip_source.ts";
import { type DesiredHosts, type Source, type SourceView, sourceViewOf } from "../engine/source.ts";

/** Opt-in: exactly "true" (the Go operator's rule). */
export const ENABLED_ANNOTATION = "router-hosts.fzymgc.house/enabled";
/** The entry's hostname (required). */
export const HOSTNAME_ANNOTATION = "router-hosts.fzymgc.house/hostname";
/** The entry's aliases, a comma list. */
export const ALIASES_ANNOTATION = "router-hosts.fzymgc.house/aliases";
/** external-dns's hostnames, a comma list (`--external-dns-annotations`). */
export const EXTERNAL_DNS_HOSTNAME_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname";
/** external-dns's target override, a comma list of IPs or names (`--external-dns-annotations`). */
export const EXTERNAL_DNS_TARGET_ANNOTATION = "external-dns.alpha.kubernetes.io/target";

/** Held until the Service's entry is deleted (the Go operator's name). */
export const SERVICE_FINALIZER = "router-hosts.fzymgc.house/service-cleanup";
/** Tags of every entry; `service` also marks an entry as adoptable. */
export const SERVICE_TAGS: readonly string[] = ["kubernetes", "service"];
/** router-hosts refuses more aliases per entry. */
export const MAX_ALIASES = 50;

/** The owner comment of the entry of `namespace/name` (the Go operator's format). */
export function serviceComment(namespace: string, name: string): string {
  return `k8s-service:${namespace}/${name}`;
}

/** The annotations the Service source reads (our host-ids annotation aside). */
const READ_ANNOTATIONS = [
  ENABLED_ANNOTATION,
  HOSTNAME_ANNOTATION,
  ALIASES_ANNOTATION,
  IP_ADDRESS_ANNOTATION,
  EXTERNAL_DNS_HOSTNAME_ANNOTATION,
  EXTERNAL_DNS_TARGET_ANNOTATION,
] as const;

/** What the Service source keeps of a Service. */
export interface ServiceFields {
  /** `spec.type`; "ClusterIP" when unset, as the API server defaults it. */
  type: string;
  /** The annotations of {@link READ_ANNOTATIONS} that are set. */
  annotations: Partial<Record<(typeof READ_ANNOTATIONS)[number], string>>;
  loadBalancer: LoadBalancerIngress[];
}

/** The fields of `obj` the Service source reads. */
export function serviceFields(obj: KubeObject): ServiceFields {
  const all = obj.metadata?.annotations ?? {};
  const annotations: ServiceFields["annotations"] = {};
  for (const key of READ_ANNOTATIONS) if (key in all) annotations[key] = all[key];
  const type = (obj.spec as { type?: unknown } | undefined)?.type;
  return {
    type: typeof type === "string" && type !== "" ? type : "ClusterIP",
    annotations,
    loadBalancer: loadBalancerIngress(obj),
  };
}

/** A condition reported as a Kubernetes Event (the Go operator's reasons). */
export interface SourceProblem {
  type: "Normal" | "Warning";
  reason:
    | "InvalidServiceType"
    | "MissingHostname"
    | "MissingIPAddress"
    | "InvalidConfiguration"
    | "PendingLoadBalancer";
  message: string;
}

/** What one Service wants. */
export interface ServiceDesired {
  /** Opted in: holds the finalizer. False: entries deleted and the finalizer removed. */
  managed: boolean;
  /** The entry (at most one) and where its IP comes from. */
  host?: { hostname: string; aliases: string[]; ip: IpCandidate };
  /** True: keep the tracked entry as it is (waiting for an address, or a fixable mistake). */
  hold: boolean;
  problems: SourceProblem[];
}

/** Options of {@link serviceDesired}. */
export interface ServiceOptions {
  /** `--external-dns-annotations`. */
  externalDns: boolean;
}

const SYNCED_TYPES = new Set(["LoadBalancer", "NodePort"]);

function commaList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim().replace(/\.$/, "")).filter((s) => s !== "");
}

/**
 * The entry a Service wants, the Go operator's rules first:
 * not opted in → nothing (and no finalizer); a type other than LoadBalancer
 * or NodePort → InvalidServiceType; no hostname → MissingHostname; NodePort
 * without an address → MissingIPAddress (these three delete the entry, as
 * the Go operator does); a LoadBalancer still without an address →
 * PendingLoadBalancer (the entry is kept). Better: a malformed hostname,
 * ip-address or alias list → InvalidConfiguration and the entry is kept
 * until it is fixed, instead of being deleted over a typo.
 */
export function serviceDesired(s: ServiceFields, o: ServiceOptions): ServiceDesired {
  const a = s.annotations;
  const enabled = a[ENABLED_ANNOTATION];
  const problems: SourceProblem[] = [];
  const viaExternalDns = o.externalDns &&
    commaList(a[EXTERNAL_DNS_HOSTNAME_ANNOTATION]).length > 0 &&
    SYNCED_TYPES.has(s.type) && enabled === undefined;
  const nothing = (p: SourceProblem): ServiceDesired => ({
    managed: true,
    hold: false,
    problems: [p],
  });
  const invalid = (message: string): ServiceDesired => ({
    managed: true,
    hold: true,
    problems: [{
      type: "Warning",
      reason: "InvalidConfiguration",
      message: `${message}; the entry already made is kept until this is fixed`,
    }],
  });
  if (enabled !== undefined && enabled !== "true" && enabled !== "false") {
    return invalid(
      `annotation ${ENABLED_ANNOTATION} is ${JSON.stringify(enabled)}: want "true" or "false"`,
    );
  }
  if (enabled !== "true" && !viaExternalDns) return { managed: false, hold: false, problems };

  if (!SYNCED_TYPES.has(s.type)) {
    return nothing({
      type: "Warning",
      reason: "InvalidServiceType",
      message:
        `Service type ${s.type} is not synced to router-hosts: only LoadBalancer and NodePort are`,
    });
  }

  const edNames = o.externalDns ? commaList(a[EXTERNAL_DNS_HOSTNAME_ANNOTATION]) : [];
  const own = a[HOSTNAME_ANNOTATION]?.trim().replace(/\.$/, "");
  const hostname = own || edNames[0];
  if (!hostname) {
    return nothing({
      type: "Warning",
      reason: "MissingHostname",
      message: `annotation ${HOSTNAME_ANNOTATION} is missing or empty: nothing is synced`,
    });
  }
  const hostProblem = hostnameProblem(hostname);
  if (hostProblem) {
    return invalid(`hostname ${JSON.stringify(hostname)} is not valid: ${hostProblem}`);
  }

  const aliasNames = [...commaList(a[ALIASES_ANNOTATION]), ...(own ? edNames : edNames.slice(1))];
  const aliases: string[] = [];
  const seen = new Set([hostname.toLowerCase()]);
  for (const alias of aliasNames) {
    const problem = isIP(alias) !== 0 ? "an IP address, not a name" : hostnameProblem(alias);
    if (problem) {
      problems.push({
        type: "Warning",
        reason: "InvalidConfiguration",
        message: `alias ${JSON.stringify(alias)} is left out: ${problem}`,
      });
      continue;
    }
    if (seen.has(alias.toLowerCase())) continue;
    seen.add(alias.toLowerCase());
    aliases.push(alias);
  }
  if (aliases.length > MAX_ALIASES) {
    return invalid(
      `${aliases.length} aliases: router-hosts accepts at most ${MAX_ALIASES} per entry`,
    );
  }

  const override = fixedCandidate(a[IP_ADDRESS_ANNOTATION], `annotation ${IP_ADDRESS_ANNOTATION}`);
  if (override && "ip" in override && isIP(override.ip) === 0) {
    return invalid(
      `annotation ${IP_ADDRESS_ANNOTATION} is ${
        JSON.stringify(override.ip)
      }, not an IPv4 or IPv6 address`,
    );
  }
  const target = o.externalDns ? commaList(a[EXTERNAL_DNS_TARGET_ANNOTATION])[0] : undefined;
  const targetCandidate: IpCandidate | undefined = target === undefined
    ? undefined
    : isIP(target) !== 0
    ? { ip: target, from: `annotation ${EXTERNAL_DNS_TARGET_ANNOTATION}` }
    : { hostname: target, from: `annotation ${EXTERNAL_DNS_TARGET_ANNOTATION}` };
  const ip = firstCandidate([
    override,
    targetCandidate,
    s.type === "LoadBalancer"
      ? loadBalancerCandidate(s.loadBalancer, "status.loadBalancer.ingress")
      : undefined,
  ]);
  if (!ip) {
    if (s.type === "NodePort") {
      return nothing({
        type: "Warning",
        reason: "MissingIPAddress",
        message:
          `a NodePort Service needs annotation ${IP_ADDRESS_ANNOTATION} (the node address to publish): nothing is synced`,
      });
    }
    return {
      managed: true,
      hold: true,
      problems: [...problems, {
        type: "Normal",
        reason: "PendingLoadBalancer",
        message: `waiting for the LoadBalancer to report an address for ${hostname}`,
      }],
    };
  }
  return { managed: true, host: { hostname, aliases, ip }, hold: false, problems };
}

/** The cached view of a Service: metadata plus {@link ServiceFields}. */
export interface ServiceView extends SourceView, ServiceFields {}

/** Keeps what the Service source needs. */
export function projectService(obj: KubeObject): ServiceView {
  return { ...sourceViewOf(obj), ...serviceFields(obj) };
}

/** What the engine syncs for `desired`. */
function hostsOf(desired: ServiceDesired): DesiredHosts {
  const host = desired.host;
  return {
    hosts: host ? [host.hostname] : [],
    aliases: host ? { [host.hostname]: host.aliases } : undefined,
    problems: desired.problems.map((p) => ({
      reason: p.reason,
      message: p.message,
      type: p.type,
      fields: {},
    })),
    incomplete: desired.hold,
  };
}

/** The Service source for `options` (`--external-dns-annotations`). */
export function serviceSource(options: ServiceOptions): Source<ServiceView> {
  return {
    resource: SERVICES,
    controller: "service",
    crdProvider: "Kubernetes",
    finalizer: SERVICE_FINALIZER,
    comment: serviceComment,
    tags: SERVICE_TAGS,
    adoptTags: ["service"],
    project: projectService,
    selected: (view) => serviceDesired(view, options).managed,
    desiredHosts: (view) => hostsOf(serviceDesired(view, options)),
    ingressIP: (view, context) => {
      const host = serviceDesired(view, options).host;
      // The engine asks only when there is a host, and a host always has an address.
      return host
        ? resolveIngressIP(host.ip, context.dns)
        : { missing: "no address", fix: "see the object's other Events" };
    },
  };
}
