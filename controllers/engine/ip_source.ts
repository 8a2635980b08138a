/**
 * Where a source's IP comes from: the override annotation, a LoadBalancer
 * status (an `ip`, or a `hostname` resolved with DNS), a fixed flag. Each
 * source lists its candidates in its own order ({@link firstCandidate});
 * {@link resolveCandidate} turns the winner into an address.
 *
 * DNS (a LoadBalancer that reports only a hostname, AWS style): A and AAAA
 * are both asked; one entry gets one address, so IPv4 is preferred (most
 * home routers and their clients reach IPv4 first), IPv6 only when the name
 * has no A record. Among several records the lowest address is taken, so a
 * name whose answers rotate (round-robin load balancers) does not move the
 * entry on every resync.
 *
 * @module
 */
import { isIP } from "node:net";
import type { WatchedKind } from "../../k8s/builder.ts";
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";

/**
 * The IP the object's entries get (and, for logs and Events, where it came
 * from), or why there is none: a `NoIngressIP` Event (or `reason`) once per
 * object. With `retry` (a DNS lookup that failed) the reconcile fails and is
 * retried with backoff; without, the object waits for a change.
 *
 * `byHost` when the IPs differ by hostname: the IPs of each wanted hostname
 * (lower case), one entry per IP — a Gateway route on Gateways at different
 * addresses; a hostname it does not name gets no entry.
 */
export type IngressIP =
  | { ip: string; from?: string }
  | { byHost: Readonly<Record<string, readonly string[]>>; from?: string }
  | { missing: string; fix: string; reason?: string; retry?: boolean };

/** Per-object IP override on IngressRoute, IngressRouteTCP, Gateway routes, Ingress and Service. */
export const IP_ADDRESS_ANNOTATION = "router-hosts.fzymgc.house/ip-address";

/** One `status.loadBalancer.ingress[]` item: what kept of it. */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

/** `status.loadBalancer.ingress` of a Service or an Ingress; malformed items dropped. */
export function loadBalancerIngress(obj: KubeObject): LoadBalancerIngress[] {
  const status = obj.status as { loadBalancer?: { ingress?: unknown } } | undefined;
  const items = status?.loadBalancer?.ingress;
  if (!Array.isArray(items)) return [];
  const out: LoadBalancerIngress[] = [];
  for (const item of items) {
    if (typeof item !== "object" || item === null) continue;
    const { ip, hostname } = item as Record<string, unknown>;
    const kept: LoadBalancerIngress = {};
    if (typeof ip === "string" && ip !== "") kept.ip = ip;
    if (typeof hostname === "string" && hostname !== "") kept.hostname = hostname;
    if (kept.ip !== undefined || kept.hostname !== undefined) out.push(kept);
  }
  return out;
}

/** An address before DNS, and which setting it came from (named in Events and logs). */
export type IpCandidate =
  | { ip: string; from: string }
  | { hostname: string; from: string };

/**
 * The address a LoadBalancer status offers: the first `ip`; when no item has
 * one, the first `hostname` (to resolve); undefined while it has none.
 */
export function loadBalancerCandidate(
  ingress: readonly LoadBalancerIngress[],
  from: string,
): IpCandidate | undefined {
  const withIP = ingress.find((i) => i.ip !== undefined && isIP(i.ip) !== 0);
  if (withIP) return { ip: withIP.ip!, from };
  const named = ingress.find((i) => i.hostname !== undefined);
  return named ? { hostname: named.hostname!, from } : undefined;
}

/** The first candidate that is set: sources list theirs in order of precedence. */
export function firstCandidate(
  candidates: readonly (IpCandidate | undefined)[],
): IpCandidate | undefined {
  return candidates.find((c) => c !== undefined);
}

/** A fixed address (a flag or an annotation value); undefined when empty. */
export function fixedCandidate(value: string | undefined, from: string): IpCandidate | undefined {
  const v = value?.trim();
  return v ? { ip: v, from } : undefined;
}

/** The two lookups DNS resolution needs; tests pass a table instead of DNS. */
export interface DnsResolver {
  /** A records of `name`; [] when it has none; throws when DNS fails. */
  resolve4(name: string): Promise<string[]>;
  /** AAAA records of `name`; [] when it has none; throws when DNS fails. */
  resolve6(name: string): Promise<string[]>;
}

function noRecords(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

/**
 * The system's DNS through `Deno.resolveDns` (needs --allow-net). `localhost`
 * is answered without asking a server, as the system resolver would: many
 * DNS servers do not serve it.
 */
export const systemDnsResolver: DnsResolver = {
  resolve4: (name) => resolveSystem(name, "A", "127.0.0.1"),
  resolve6: (name) => resolveSystem(name, "AAAA", "::1"),
};

/** `name`'s records of `type`; none when the name has none; `loopback` for localhost. */
async function resolveSystem(
  name: string,
  type: "A" | "AAAA",
  loopback: string,
): Promise<string[]> {
  if (isLocalhost(name)) return [loopback];
  try {
    return await Deno.resolveDns(name, type);
  } catch (e) {
    if (noRecords(e)) return [];
    throw e;
  }
}

function isLocalhost(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return n === "localhost" || n.endsWith(".localhost");
}

/** The lowest address of `ips` in numeric order (IPv4 or IPv6), for a stable choice. */
export function lowestAddress(ips: readonly string[]): string | undefined {
  const key = (ip: string) =>
    isIP(ip) === 4 ? ip.split(".").map((p) => p.padStart(3, "0")).join(".") : expandIPv6(ip);
  return [...ips].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))[0];
}

function expandIPv6(ip: string): string {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => g.padStart(4, "0")).join(":");
}

/** An address, or why there is none. */
export type ResolvedIp =
  | { ip: string; from: string; hostname?: string }
  | { error: string; from: string; hostname?: string };

/**
 * The address of `candidate`: an `ip` as it is (checked), a `hostname`
 * through DNS (IPv4 preferred, then IPv6; the lowest of several).
 */
export async function resolveCandidate(
  candidate: IpCandidate,
  dns: DnsResolver,
): Promise<ResolvedIp> {
  if ("ip" in candidate) {
    return isIP(candidate.ip) === 0
      ? {
        error: `${JSON.stringify(candidate.ip)} is not an IPv4 or IPv6 address`,
        from: candidate.from,
      }
      : { ip: candidate.ip, from: candidate.from };
  }
  const { hostname, from } = candidate;
  try {
    const v4 = (await dns.resolve4(hostname)).filter((ip) => isIP(ip) === 4);
    if (v4.length > 0) return { ip: lowestAddress(v4)!, from, hostname };
    const v6 = (await dns.resolve6(hostname)).filter((ip) => isIP(ip) === 6);
    if (v6.length > 0) return { ip: lowestAddress(v6)!, from, hostname };
    return { error: `DNS name ${hostname} has no A or AAAA record`, from, hostname };
  } catch (e) {
    return {
      error: `DNS lookup of ${hostname} failed: ${e instanceof Error ? e.message : String(e)}`,
      from,
      hostname,
    };
  }
}

/**
 * The IP of `candidate`: an address as it is, a name through DNS. A name
 * that does not resolve is retried with backoff (one Event); a malformed
 * address waits for the object to change.
 */
export async function resolveIngressIP(
  candidate: IpCandidate,
  dns: DnsResolver,
): Promise<IngressIP> {
  const r = await resolveCandidate(candidate, dns);
  if ("ip" in r) return { ip: r.ip, from: r.hostname ? `${r.from} (${r.hostname})` : r.from };
  return r.hostname === undefined ? { missing: `${r.from}: ${r.error}`, fix: "correct it" } : {
    missing: `${r.from}: ${r.error}`,
    fix: "retrying with backoff",
    reason: "UnresolvableAddress",
    retry: true,
  };
}

/**
 * The object's override annotation as its IP, or undefined when it has
 * none. A malformed value is a missing IP (one Event naming it), never a
 * silent fallback to another address.
 */
export function overrideIP(view: { ipOverride?: string }): IngressIP | undefined {
  const value = view.ipOverride;
  if (value === undefined) return undefined;
  const from = `annotation ${IP_ADDRESS_ANNOTATION}`;
  return isIP(value) !== 0 ? { ip: value, from } : {
    missing: `${from} is ${JSON.stringify(value)}, not an IPv4 or IPv6 address`,
    fix: "correct or remove the annotation",
  };
}

/** Core v1 Services. */
export const SERVICES: ResourceType = {
  group: "",
  version: "v1",
  plural: "services",
  kind: "Service",
  namespaced: true,
};

/** What is kept of the `--ingress-service` Service: its address, nothing else wakes anyone. */
export interface LoadBalancerView {
  loadBalancer: LoadBalancerIngress[];
}

/** How long a DNS answer for the ingress Service's name is reused by the objects that follow it. */
const DNS_REUSE_MS = 30_000;

/** Options of {@link ClusterIngressIP}. */
export interface ClusterIngressIPOptions {
  /** `--ingress-service`. */
  service?: { namespace: string; name: string };
  /** `--default-ingress-ip`; "" when not set. */
  defaultIngressIP: string;
  dns: DnsResolver;
  /** Milliseconds now (tests). */
  now?: () => number;
}

/**
 * The cluster's ingress IP: the LoadBalancer address of the
 * `--ingress-service` Service (watched alone: one namespace, one name),
 * resolved with DNS when it is a name, else `--default-ingress-ip`. One DNS
 * answer serves every object that follows it for 30 s, so a change of the
 * Service that wakes a thousand routes asks DNS once.
 */
export class ClusterIngressIP {
  /** The watched Service, when `--ingress-service` is set. */
  readonly kind?: WatchedKind<LoadBalancerView>;
  /** Its cache key, "namespace/name". */
  readonly key?: string;
  readonly #o: ClusterIngressIPOptions;
  readonly #now: () => number;
  #answer?: { hostname: string; at: number; result: Promise<ResolvedIp> };

  constructor(options: ClusterIngressIPOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const svc = options.service;
    if (svc) {
      this.key = `${svc.namespace}/${svc.name}`;
      this.kind = {
        resource: SERVICES,
        namespace: svc.namespace,
        fieldSelector: `metadata.name=${svc.name}`,
        project: (obj) => ({ loadBalancer: loadBalancerIngress(obj) }),
      };
    }
  }

  /** The IP now; `cached` reads the watched Service from its cache. */
  async resolve(
    cached: (kind: WatchedKind<LoadBalancerView>, key: string) => LoadBalancerView | undefined,
  ): Promise<IngressIP> {
    const flag = this.#o.defaultIngressIP;
    if (!this.kind || !this.key) {
      return flag ? { ip: flag, from: "--default-ingress-ip" } : {
        missing: "--default-ingress-ip is not set",
        fix: "set it (Helm value routerHosts.defaultIngressIP)",
      };
    }
    const from = `Service ${this.key}`;
    const candidate = loadBalancerCandidate(cached(this.kind, this.key)?.loadBalancer ?? [], from);
    if (!candidate) {
      return flag ? { ip: flag, from: `--default-ingress-ip (${from} has no address)` } : {
        missing:
          `${from} (--ingress-service) has no LoadBalancer address and --default-ingress-ip is not set`,
        fix: "they are synced as soon as it reports one",
      };
    }
    const resolved = await this.#resolve(candidate);
    if ("ip" in resolved) return { ip: resolved.ip, from };
    return {
      missing: `${from} (--ingress-service): ${resolved.error}`,
      fix: "retrying with backoff",
      reason: "UnresolvableAddress",
      retry: true,
    };
  }

  #resolve(candidate: IpCandidate): Promise<ResolvedIp> {
    if ("ip" in candidate) return resolveCandidate(candidate, this.#o.dns);
    const now = this.#now();
    const a = this.#answer;
    if (a && a.hostname === candidate.hostname && now - a.at < DNS_REUSE_MS) return a.result;
    const result = resolveCandidate(candidate, this.#o.dns);
    this.#answer = { hostname: candidate.hostname, at: now, result };
    // A failed lookup is not reused: the next retry asks again.
    result.then((r) => {
      if ("error" in r && this.#answer?.result === result) this.#answer = undefined;
    });
    return result;
  }
}
