/**
 * Policy and ownership (spec sources.md §6): which hostnames the operator
 * manages (`--domain-filter` / `--exclude-domains`), whether it deletes
 * (`--policy`, the `on-delete: retain` annotation), whose entries it may
 * touch (`--owner-id`, tag `owner:<id>`), and what counts as a hostname
 * conflict between two of our objects. Pure functions, shared by every
 * source through the engine and by the HostMapping controller, plus the
 * small {@link ConflictBoard} that wakes a conflict's loser when the winner
 * lets the name go.
 *
 * Ownership with an owner id: an entry is ours when it carries our comment
 * and adoption tags and either our `owner:<id>` tag or no `owner:` tag at
 * all. The second case is the migration path: an installation that gains
 * an owner id adopts its untagged entries on the first sync and tags them
 * (an update of the same entry, never a second one). An entry carrying
 * another `owner:` tag is never ours — with or without an owner id.
 *
 * @module
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { AdoptionRefusedError, HostnameHeldError } from "./sync.ts";

/** The annotation that keeps an object's entries when the object is deleted. */
export const ON_DELETE_ANNOTATION = "router-hosts.fzymgc.house/on-delete";

/** The tag an entry gets when its object was deleted with `on-delete: retain`. */
export const RETAINED_TAG = "retained";

/** Prefix of the owner tag. */
export const OWNER_TAG_PREFIX = "owner:";

/** `--policy`. */
export type PolicyMode = "sync" | "upsert-only";

/** The policy flags, parsed once in config.ts. */
export interface Policy {
  /** Suffixes managed; every name when empty. Lower case, no leading dot. */
  domainFilter: readonly string[];
  /** Suffixes never managed, even under {@link domainFilter}. */
  excludeDomains: readonly string[];
  mode: PolicyMode;
  /** "" = no owner tag (compatible with the Go operator). */
  ownerId: string;
  /** Hostnames one object may have entries for; the rest are dropped with one Warning. */
  maxHostsPerObject: number;
}

/**
 * `--max-hosts-per-object` by default. An object's `host-ids` annotation
 * costs a hostname plus 32 bytes per host, so 400 of the longest names
 * (253 characters) take 114,000 bytes: with kubectl's last-applied copy of
 * the same names beside it, still under the API server's 256 KiB for all
 * of an object's annotations together.
 */
export const DEFAULT_MAX_HOSTS_PER_OBJECT = 400;

/** Sync everything, delete what goes, no owner: the Go operator's behaviour. */
export const DEFAULT_POLICY: Policy = {
  domainFilter: [],
  excludeDomains: [],
  mode: "sync",
  ownerId: "",
  maxHostsPerObject: DEFAULT_MAX_HOSTS_PER_OBJECT,
};

/** Normalises a `--domain-filter` value: lower case, no leading or trailing dot. */
export function normalizeDomain(suffix: string): string {
  return suffix.trim().toLowerCase().replace(/^\.+/, "").replace(/\.+$/, "");
}

/** True when `hostname` is `suffix` or ends with `.suffix` (label boundary, any case). */
export function underDomain(hostname: string, suffix: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  const s = normalizeDomain(suffix);
  return s === "" || h === s || h.endsWith(`.${s}`);
}

/** True when the policy lets the operator manage `hostname`. */
export function domainAllowed(policy: Policy, hostname: string): boolean {
  if (policy.excludeDomains.some((s) => underDomain(hostname, s))) return false;
  return policy.domainFilter.length === 0 ||
    policy.domainFilter.some((s) => underDomain(hostname, s));
}

/** Why `hostname` is not managed, for Events and logs; undefined when it is. */
export function domainRefusal(policy: Policy, hostname: string): string | undefined {
  const excluded = policy.excludeDomains.find((s) => underDomain(hostname, s));
  if (excluded !== undefined) return `under --exclude-domains ${excluded}`;
  if (policy.domainFilter.length > 0 && !domainAllowed(policy, hostname)) {
    return `outside --domain-filter ${policy.domainFilter.join(", ")}`;
  }
  return undefined;
}

/** `owner:<id>`, or undefined without an owner id. */
export function ownerTag(policy: Policy): string | undefined {
  return policy.ownerId ? `${OWNER_TAG_PREFIX}${policy.ownerId}` : undefined;
}

/** The tags an entry we write carries: the source's, plus the owner tag. */
export function entryTags(policy: Policy, tags: readonly string[]): string[] {
  const owner = ownerTag(policy);
  const own = tags.filter((t) => !t.startsWith(OWNER_TAG_PREFIX));
  return owner ? [...own, owner] : own;
}

/** The `owner:` tags of an entry. */
function ownerTagsOf(entry: Pick<HostEntry, "tags">): string[] {
  return entry.tags.filter((t) => t.startsWith(OWNER_TAG_PREFIX));
}

/**
 * True when the entry's owner tags let us adopt, update or delete it: ours,
 * or none (an entry from before the owner id, adopted and tagged on sync).
 */
export function ownerAllows(policy: Policy, entry: Pick<HostEntry, "tags">): boolean {
  const owners = ownerTagsOf(entry);
  if (owners.length === 0) return true;
  const owner = ownerTag(policy);
  return owner !== undefined && owners.every((t) => t === owner);
}

/**
 * The stricter rule of the orphan sweep, which deletes without an object to
 * prove the entry ours: with an owner id the entry must carry exactly our
 * tag; without one it must carry none.
 */
export function ownerMatchesStrictly(policy: Policy, entry: Pick<HostEntry, "tags">): boolean {
  const owners = ownerTagsOf(entry);
  const owner = ownerTag(policy);
  return owner === undefined ? owners.length === 0 : owners.length === 1 && owners[0] === owner;
}

/** Adds the owner rule to a source's adoption rule. */
export function withOwner(
  policy: Policy,
  owns: (entry: HostEntry) => boolean,
): (entry: HostEntry) => boolean {
  return (e) => owns(e) && ownerAllows(policy, e);
}

/**
 * Comments the operator writes: `k8s:` (HostMapping) and `k8s-<source>:`
 * (k8s-ingress, k8s-gateway, k8s-service, k8s-ingress-v1). An entry with such a comment, or with an
 * owner tag, was written by this operator (for another object, or another
 * installation): taking it is a hostname conflict, not a foreign entry.
 */
const OPERATOR_COMMENT = /^k8s(-[a-z0-9]+)*:/;

/** True when `entry` is another object's (ours or another installation's), not a person's. */
export function isOperatorEntry(entry: Pick<HostEntry, "comment" | "tags">): boolean {
  return OPERATOR_COMMENT.test(entry.comment ?? "") || ownerTagsOf(entry).length > 0;
}

/**
 * True when `error` means another holder has the hostname: another object's
 * entry (any IP), or anyone's entry at another IP. Only a person's entry of
 * the very same ip+hostname stays an adoption refusal.
 */
export function isHostnameConflict(error: unknown): error is AdoptionRefusedError {
  return error instanceof HostnameHeldError ||
    (error instanceof AdoptionRefusedError && isOperatorEntry(error.entry));
}

/** Who holds an entry, for Events and status: the object's comment and owner, or a person. */
export function describeHolder(entry: HostEntry): string {
  const owners = ownerTagsOf(entry).map((t) => ` ${t}`).join("");
  const who = isOperatorEntry(entry)
    ? JSON.stringify(entry.comment ?? "") + owners
    : `a hand-made entry, comment ${JSON.stringify(entry.comment ?? "")}`;
  return `${who}, entry ${entry.id} -> ${entry.ipAddress}`;
}

/** What the object says about its entries when it is deleted. */
export function retainsOnDelete(annotations: Record<string, string> | undefined): boolean {
  return annotations?.[ON_DELETE_ANNOTATION]?.trim().toLowerCase() === "retain";
}

/** True when entries of deleted objects are deleted (policy sync and no retain annotation). */
export function deletesOnDelete(policy: Policy, retain: boolean): boolean {
  return policy.mode === "sync" && !retain;
}

/** True when the policy lets the operator delete entries at all. */
export function mayDelete(policy: Policy): boolean {
  return policy.mode === "sync";
}

/** Splits hostnames into those the policy manages and those it skips (with why). */
export function splitByDomain(
  policy: Policy,
  hostnames: readonly string[],
): { managed: string[]; skipped: { hostname: string; why: string }[] } {
  const managed: string[] = [];
  const skipped: { hostname: string; why: string }[] = [];
  for (const hostname of hostnames) {
    const why = domainRefusal(policy, hostname);
    if (why === undefined) managed.push(hostname);
    else skipped.push({ hostname, why });
  }
  return { managed, skipped };
}

/**
 * Who waits for which hostname: a conflict's loser waits here, and whoever
 * deletes an entry of that hostname releases it, waking every waiter (any
 * controller) at once — so the loser takes over in seconds, without a
 * retry loop.
 */
export class ConflictBoard {
  readonly #waiting = new Map<string, Map<string, () => void>>();

  /** `waiter` (a unique "controller/key") is woken by `wake` when `hostname` is released. */
  wait(hostname: string, waiter: string, wake: () => void): void {
    const name = hostname.toLowerCase();
    let waiters = this.#waiting.get(name);
    if (!waiters) this.#waiting.set(name, waiters = new Map());
    waiters.set(waiter, wake);
  }

  /** Stops `waiter` waiting for any hostname (its object is gone or no longer conflicts). */
  forget(waiter: string): void {
    for (const [name, waiters] of this.#waiting) {
      waiters.delete(waiter);
      if (waiters.size === 0) this.#waiting.delete(name);
    }
  }

  /** An entry of `hostname` was deleted: wakes its waiters once; returns how many. */
  release(hostname: string): number {
    const name = hostname.toLowerCase();
    const waiters = this.#waiting.get(name);
    if (!waiters) return 0;
    this.#waiting.delete(name);
    for (const wake of waiters.values()) wake();
    return waiters.size;
  }

  /** How many hostnames are waited for (for tests). */
  get size(): number {
    return this.#waiting.size;
  }
}
