/**
 * What a host source is: a short description ({@link Source}) of a kind
 * whose objects declare hostnames — resource, finalizer, comment, tags,
 * adoption tags, the hostnames and the IP an object wants, and which other
 * objects it depends on — and the pure rules every source shares (what wakes
 * a reconcile, who owns an entry, what a same-name object of the comment
 * group claims). The engine (engine/reconcile.ts) does the rest.
 *
 * @module
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import type { WatchedKind } from "../../k8s/builder.ts";
import { deepEqual } from "../../k8s/equal.ts";
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { type ObjectView, viewOf } from "../../k8s/view.ts";
import { HOST_IDS_ANNOTATION, parseHostIds } from "./host_ids.ts";
import { type DnsResolver, type IngressIP, IP_ADDRESS_ANNOTATION } from "./ip_source.ts";
import { type Policy, retainsOnDelete, splitByDomain } from "../hosts/policy.ts";

/** The cached view of a source object: metadata, the raw `host-ids` annotation, the IP override. */
export interface SourceView extends ObjectView {
  /** The raw `host-ids` annotation. */
  hostIds?: string;
  /** The per-object override annotation `router-hosts.fzymgc.house/ip-address`, trimmed. */
  ipOverride?: string;
  /** Annotation `on-delete: retain`: the entries stay when the object is deleted. */
  retain?: boolean;
}

/**
 * The {@link SourceView} part of a source's projection. Our own `host-ids`
 * annotation is left out of `metaHash`, so writing it never wakes us.
 */
export function sourceViewOf(obj: KubeObject): SourceView {
  const view: SourceView = viewOf(obj, [HOST_IDS_ANNOTATION]);
  const hostIds = obj.metadata?.annotations?.[HOST_IDS_ANNOTATION];
  if (hostIds !== undefined) view.hostIds = hostIds;
  const ipOverride = obj.metadata?.annotations?.[IP_ADDRESS_ANNOTATION]?.trim();
  if (ipOverride) view.ipOverride = ipOverride;
  if (retainsOnDelete(obj.metadata?.annotations)) view.retain = true;
  return view;
}

/** Something about an object's hostnames a person must fix: one Event (and a log line). */
export interface HostProblem {
  /** The Event reason, e.g. InvalidHostname, InvalidRule. */
  reason: string;
  /** The Event note. */
  message: string;
  /** Structured fields of the log line. */
  fields: Record<string, unknown>;
  /** Normal for a state that resolves itself (a load balancer being provisioned); default Warning. */
  type?: "Normal" | "Warning";
}

/** The hostnames an object wants, and what was left out. */
export interface DesiredHosts {
  /** De-duplicated case-insensitively; first spelling kept. */
  hosts: string[];
  problems: HostProblem[];
  /**
   * Part of the object could not be read (a rule that does not parse): it
   * may name hosts we track, so no tracked entry is deleted until it reads.
   */
  incomplete?: boolean;
  /** Aliases of an entry, by hostname; none when omitted. */
  aliases?: Readonly<Record<string, readonly string[]>>;
}

/**
 * `desired` without the names outside the domain filter, and one problem
 * (so one `DomainFiltered` Event per object and change) naming them all.
 */
export function filterDesired(policy: Policy, desired: DesiredHosts): DesiredHosts {
  const { managed, skipped } = splitByDomain(policy, desired.hosts);
  if (skipped.length === 0) return desired;
  const shown = skipped.slice(0, 5).map((s) => `${s.hostname} (${s.why})`).join(", ");
  const more = skipped.length > 5 ? ` and ${skipped.length - 5} more` : "";
  return {
    ...desired,
    hosts: managed,
    problems: [...desired.problems, {
      reason: "DomainFiltered",
      message: `${skipped.length} hostname(s) are outside this operator's domains and are ` +
        `neither written to nor deleted from router-hosts: ${shown}${more}`,
      fields: { hostnames: skipped.map((s) => s.hostname) },
    }],
  };
}

/**
 * `desired` with at most `--max-hosts-per-object` hostnames: the first ones,
 * in the object's order, and one problem (one `TooManyHosts` Warning per
 * object and change) saying how many were dropped. A dropped name gets no
 * entry, and loses the one it had.
 */
export function capHosts(policy: Policy, desired: DesiredHosts): DesiredHosts {
  const max = policy.maxHostsPerObject;
  if (desired.hosts.length <= max) return desired;
  const dropped = desired.hosts.slice(max);
  const shown = dropped.slice(0, 5).join(", ");
  const more = dropped.length > 5 ? ` and ${dropped.length - 5} more` : "";
  return {
    ...desired,
    hosts: desired.hosts.slice(0, max),
    problems: [...desired.problems, {
      reason: "TooManyHosts",
      message: `${desired.hosts.length} hostnames, more than --max-hosts-per-object=${max}: ` +
        `the first ${max} are kept, the other ${dropped.length} get no entry: ${shown}${more}`,
      fields: { hostnames: desired.hosts.length, dropped: dropped.length },
    }],
  };
}

/** What a source reads besides its own object. */
export interface SourceContext {
  /** `--default-ingress-ip`; "" when not set. */
  defaultIngressIP: string;
  /**
   * The cluster's ingress IP: the `--ingress-service` Service's address
   * (resolved with DNS when it is a name), else `--default-ingress-ip`.
   */
  clusterIngressIP(): Promise<IngressIP>;
  /** DNS, for addresses reported as names. */
  dns: DnsResolver;
  /** A watched object (a {@link Dependency}'s kind) from its cache. */
  cached<W>(kind: WatchedKind<W>, key: string): W | undefined;
}

/**
 * Objects of another kind a source object reads: a change of one of them
 * re-syncs exactly the source objects whose `refs` name it (an index kept
 * from the cache; no polling).
 */
export interface Dependency<V> {
  kind: WatchedKind<unknown>;
  /** Keys ("namespace/name") of the `kind` objects `view` depends on. */
  refs(view: V): string[];
}

/** One kind of host source; see the module documentation. */
export interface Source<V extends SourceView> {
  resource: ResourceType;
  /** The controller name: the `controller` label of metrics and logs. */
  controller: string;
  /** Who provides the CRD, for the log line while it is missing ("Traefik"). */
  crdProvider: string;
  /** Held until every entry of the object is deleted. */
  finalizer: string;
  /** The owner comment of the entries of `namespace/name`. */
  comment(namespace: string, name: string): string;
  /** Tags of every entry. */
  tags: readonly string[];
  /** Tags besides the comment an entry must carry to be ours (adopted, updated, deleted). */
  adoptTags: readonly string[];
  /** Keeps what the description reads; must build on {@link sourceViewOf}. */
  project(obj: KubeObject): V;
  /**
   * The hostnames `view` wants. Pure: reads `view` and, through
   * `context.cached`, the watched objects of its {@link dependsOn}.
   */
  desiredHosts(view: V, context: SourceContext): DesiredHosts;
  /** The IP of `view`'s entries. */
  ingressIP(view: V, context: SourceContext): IngressIP | Promise<IngressIP>;
  /** Other kinds whose changes re-sync this kind's objects. */
  dependsOn?: readonly Dependency<V>[];
  /**
   * True when `view`'s IP is the cluster's ingress IP
   * ({@link SourceContext.clusterIngressIP}): a change of the
   * `--ingress-service` Service then re-syncs it.
   */
  followsClusterIP?(view: V): boolean;
  /**
   * Whether the object is ours to sync (an opt-in annotation, a class
   * filter); every object when omitted. An object that stops being selected
   * is treated as deleted: its entries are deleted, the `host-ids`
   * annotation and our finalizer removed. One never selected costs nothing.
   */
  selected?(view: V): boolean;
  /** Kinds in the same group share comments; see {@link Claims}. */
  commentGroup?: string;
}

/** Any source, whatever its view (for lists of sources). */
// deno-lint-ignore no-explicit-any
export type AnySource = Source<any>;

/**
 * True when a change from `prev` to `next` needs a reconcile: anything the
 * projection keeps changed. Our own writes do not — the annotation (a person
 * editing it is seen at the next resync) and our finalizer appearing, which
 * the watch may report before the write's response is in the cache — so no
 * write causes another pass over every host. Our finalizer removed by
 * someone else does.
 */
export function needsReconcile<V extends SourceView>(
  finalizer: string,
  prev: V | undefined,
  next: V,
): boolean {
  if (!prev) return true;
  if (prev.finalizers.includes(finalizer) && !next.finalizers.includes(finalizer)) return true;
  const comparable = (v: V) => {
    const { resourceVersion: _rv, hostIds: _ids, finalizers, ...rest } = v;
    return { ...rest, finalizers: finalizers.filter((f) => f !== finalizer) };
  };
  return !deepEqual(comparable(prev), comparable(next));
}

/** Adoption rule: our comment AND every adoption tag. */
export function ownsEntry(
  comment: string,
  adoptTags: readonly string[],
): (entry: HostEntry) => boolean {
  return (e) => e.comment === comment && adoptTags.every((t) => e.tags.includes(t));
}

/** What the other kind's object of the same namespace/name holds on to. */
export interface Claims {
  /** Entry ids it tracks. */
  ids: ReadonlySet<string>;
  /** Hostnames it wants (lower case). */
  hostnames: ReadonlySet<string>;
}

/** Nothing claimed. */
export const NO_CLAIMS: Claims = { ids: new Set(), hostnames: new Set() };

/**
 * The claims of `view` of `source` (undefined = none): an object being
 * deleted claims nothing, so two such objects never both spare an entry.
 */
export function claimsOf<V extends SourceView>(
  source: Source<V>,
  view: V | undefined,
  context: SourceContext,
): Claims {
  if (!view || view.deletionTimestamp) return NO_CLAIMS;
  const parsed = parseHostIds(view.hostIds);
  return {
    ids: new Set("tracked" in parsed ? parsed.tracked.map((t) => t.id) : []),
    hostnames: new Set(source.desiredHosts(view, context).hosts.map((h) => h.toLowerCase())),
  };
}
