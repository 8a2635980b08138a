/**
 * The orphan sweep (`--gc-interval`): once per interval, entries that carry
 * one of our comments (`k8s:<ns>/<name>`, `k8s-ingress:<ns>/<name>`, ...)
 * and that kind's adoption tags, whose object no longer exists in the
 * cache, are deleted — one log line each (no Event: there is no object to
 * attach it to) and `router_hosts_orphans_deleted_total`. It catches objects
 * whose finalizer a person removed by hand before the entries were deleted.
 *
 * It never deletes an entry
 * - of a kind that is disabled (not in the list) or whose CRD is not
 *   installed or whose cache has not synced — an empty cache proves nothing;
 * - whose owner tag is not exactly ours (with `--owner-id`), or that has an
 *   owner tag at all (without);
 * - tagged `retained` (its object was deleted with `on-delete: retain`);
 * - outside the domain filter;
 * - of an object outside the kind's watch scope (`--namespace`,
 *   `--label-selector`): the cache cannot tell whether it exists. Under a
 *   label selector that is every entry of the kind, unless `--owner-id` is
 *   set: then only entries tagged with our owner id are candidates, and
 *   such an entry whose object is not in our cache is ours to delete —
 *   its object is gone or left our scope.
 *
 * router-hosts' ListHosts ignores limit and offset (it streams everything),
 * so the sweep asks per comment prefix with SearchHosts instead: each call
 * streams only entries that mention one of our prefixes.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import { Controller, type Outcome } from "../../k8s/controller.ts";
import type { Unit } from "../../k8s/manager.ts";
import type { WatchScope } from "../../k8s/scope.ts";
import { parseKey } from "../../k8s/resource.ts";
import type { Metrics } from "../../observability/metrics.ts";
import type { Logger } from "../../observability/log.ts";
import { deleteHost } from "./sync.ts";
import {
  type ConflictBoard,
  domainAllowed,
  ownerMatchesStrictly,
  type Policy,
  RETAINED_TAG,
} from "./policy.ts";

/** One kind of object whose entries the sweep may delete. */
export interface SweepKind {
  /** The controller name: the `controller` label of the metric. */
  controller: string;
  /** The comment of the entries of `namespace/name`. */
  comment(namespace: string, name: string): string;
  /** Tags besides the comment an entry must carry to be of this kind. */
  adoptTags: readonly string[];
  /** The kind's cache. */
  cache: { ready(): boolean; has(key: string): boolean };
  /** What the cache watches; everything when omitted. */
  scope?: WatchScope;
}

/** Whether the kind's cache would hold the object of `key`, were it ours and alive. */
export function inSweepScope(kind: Pick<SweepKind, "scope">, key: string, policy: Policy): boolean {
  const namespaces = kind.scope?.namespaces ?? [];
  if (namespaces.length > 0 && !namespaces.includes(parseKey(key).namespace)) return false;
  return !kind.scope?.labelSelector || policy.ownerId !== "";
}

/** The comment prefix of a kind: its comment up to the namespace. */
export function commentPrefix(kind: Pick<SweepKind, "comment">): string {
  const probe = kind.comment("\u0000", "\u0001");
  return probe.slice(0, probe.indexOf("\u0000"));
}

/** `namespace/name` of an entry of `kind`, or undefined when the comment is not of that form. */
export function objectKeyOf(kind: Pick<SweepKind, "comment">, comment: string): string | undefined {
  const prefix = commentPrefix(kind);
  if (!comment.startsWith(prefix)) return undefined;
  const rest = comment.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const [namespace, name] = [rest.slice(0, slash), rest.slice(slash + 1)];
  return name !== "" && kind.comment(namespace, name) === comment
    ? `${namespace}/${name}`
    : undefined;
}

/** An entry to delete, and the controller it is counted under. */
export interface Orphan {
  entry: HostEntry;
  controller: string;
  key: string;
}

/** The orphans among `entries` (pure; see the module documentation for the rules). */
export function findOrphans(
  entries: readonly HostEntry[],
  kinds: readonly SweepKind[],
  policy: Policy,
): Orphan[] {
  const orphans: Orphan[] = [];
  for (const entry of entries) {
    if (entry.tags.includes(RETAINED_TAG)) continue;
    if (!ownerMatchesStrictly(policy, entry)) continue;
    if (!domainAllowed(policy, entry.hostname)) continue;
    const candidates = kinds.flatMap((kind) => {
      const key = objectKeyOf(kind, entry.comment ?? "");
      return key !== undefined && kind.adoptTags.every((t) => entry.tags.includes(t))
        ? [{ kind, key }]
        : [];
    });
    if (candidates.length === 0) continue;
    // Kinds sharing a comment (IngressRoute and IngressRouteTCP): the entry
    // is an orphan only when no kind can have its object.
    if (
      candidates.some(({ kind, key }) =>
        !kind.cache.ready() || kind.cache.has(key) || !inSweepScope(kind, key, policy)
      )
    ) continue;
    orphans.push({ entry, controller: candidates[0].kind.controller, key: candidates[0].key });
  }
  return orphans;
}

/** Dependencies of {@link OrphanSweep}. */
export interface OrphanSweepDeps {
  hosts: HostsPort;
  kinds: readonly SweepKind[];
  policy: Policy;
  intervalMs: number;
  log: Logger;
  /** Counts a deleted orphan (router_hosts_orphans_deleted_total). */
  deleted: (controller: string) => void;
  /** Told of each deleted entry, so a conflict's loser waiting for the name takes it over. */
  conflicts?: ConflictBoard;
  /** `--dry-run`: the hosts API only logs deletes; neither count nor report them as done. */
  dryRun?: boolean;
}

/** Runs one sweep per interval. */
export class OrphanSweep {
  readonly #d: OrphanSweepDeps;

  constructor(deps: OrphanSweepDeps) {
    this.#d = deps;
  }

  /** One sweep; reconcile again after the interval. */
  async sweep(signal?: AbortSignal): Promise<Outcome> {
    const { hosts, kinds, policy, log } = this.#d;
    const prefixes = [...new Set(kinds.map(commentPrefix))];
    let deleted = 0, failed = 0;
    for (const prefix of prefixes) {
      if (signal?.aborted) break;
      const entries = (await hosts.searchHosts(prefix)).filter((e) =>
        (e.comment ?? "").startsWith(prefix)
      );
      for (const orphan of findOrphans(entries, kinds, policy)) {
        if (signal?.aborted) break;
        const { entry } = orphan;
        try {
          // Deleted at the version read: an entry that changed meanwhile is left for the next sweep.
          if (await deleteHost(hosts, entry.id, (e) => e.version === entry.version)) {
            if (this.#d.dryRun) continue;
            deleted++;
            this.#d.deleted(orphan.controller);
            this.#d.conflicts?.release(entry.hostname);
            log.info("orphan entry deleted: its object no longer exists", {
              hostname: entry.hostname,
              ip: entry.ipAddress,
              hostId: entry.id,
              comment: entry.comment,
              object: orphan.key,
              controller: orphan.controller,
            });
          }
        } catch (e) {
          failed++;
          log.warn("could not delete an orphan entry; trying again at the next sweep", {
            hostname: entry.hostname,
            hostId: entry.id,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }
    }
    const notReady = kinds.filter((k) => !k.cache.ready()).map((k) => k.controller);
    log.info("orphan sweep done", {
      deleted,
      failed: failed || undefined,
      skippedKinds: notReady.length > 0 ? notReady : undefined,
    });
    return { requeueAfterMs: this.#d.intervalMs };
  }
}

/** Everything the sweep's unit is built from. */
export interface OrphanSweepUnitOptions extends OrphanSweepDeps {
  metrics: Metrics;
}

/** The controller name of the sweep (one key, reconciled once per interval). */
export const ORPHAN_SWEEP_CONTROLLER = "orphan-sweep";

/**
 * The sweep as a unit of the manager: it runs only on the leader, and each
 * kind's cache is checked at every sweep (a kind whose CRD appears later is
 * swept from then on).
 */
export function createOrphanSweepUnit(o: OrphanSweepUnitOptions): Unit {
  const sweep = new OrphanSweep(o);
  return {
    informers: [],
    controller: new Controller({
      name: ORPHAN_SWEEP_CONTROLLER,
      reconcile: (_key, signal) => sweep.sweep(signal),
      workers: 1,
      log: o.log,
      metrics: o.metrics,
      keys: () => ["sweep"],
    }),
  };
}
