/**
 * The source engine's deletion path: what happens to an object's entries
 * when it is deleted (or no longer selected). Either they are deleted —
 * the tracked ones, then those with our comment and tags that the
 * annotation missed — or, under upsert-only or `on-delete: retain`, they
 * are kept and tagged `retained`.
 *
 * Separate from the engine (engine/reconcile.ts), which decides when this
 * runs and owns the per-key state; this module only performs the cleanup
 * and reports through the {@link CleanupContext} it is given.
 *
 * @module
 */
import type { Outcome } from "../../k8s/controller.ts";
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import type { Logger } from "../../observability/log.ts";
import { serializeHostIds, type TrackedHost } from "./host_ids.ts";
import { deleteHost } from "../hosts/sync.ts";
import {
  type ConflictBoard,
  deletesOnDelete,
  domainAllowed,
  mayDelete,
  type Policy,
  RETAINED_TAG,
} from "../hosts/policy.ts";
import type { Claims, SourceView } from "./source.ts";
import type { HostFailure, SourceEvents } from "./events.ts";
import { errorText, forEachLimit, type TrackedEntries } from "./tracking.ts";

/** What the cleanup of one key needs from the engine. */
export interface CleanupContext<V extends SourceView> {
  hosts: HostsPort;
  policy: Policy;
  board: ConflictBoard;
  entries: TrackedEntries<V>;
  report: SourceEvents<V>;
  /** Hostnames of one object handled concurrently. */
  concurrency: number;
  /** The object's comment. */
  comment: string;
  /** The entry of the source with the owner rule: what we may delete. */
  owns: (entry: HostEntry) => boolean;
  /** What objects of the same comment group with this key hold. */
  claims: Claims;
  /** Drops the key's tracked count, in-memory ids and conflicts once cleanup is done. */
  settled: () => void;
}

/**
 * Deletes the entries of a deleted object, or keeps them (see
 * {@link retainEntries}) when the policy or the object says so. Throws while
 * an entry could not be deleted, so the finalizer stays.
 */
export async function cleanupEntries<V extends SourceView>(
  c: CleanupContext<V>,
  key: string,
  view: V,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const { comment, owns, claims } = c;
  const spared = (t: TrackedHost) =>
    claims.ids.has(t.id) || claims.hostnames.has(t.hostname.toLowerCase()) ||
    !domainAllowed(c.policy, t.hostname);
  if (!deletesOnDelete(c.policy, view.retain === true)) {
    return await retainEntries(c, key, view, log);
  }
  const { tracked, recorded } = await c.entries.tracked(key, view, comment, claims, log);

  const failures: HostFailure[] = [];
  const remaining: TrackedHost[] = [];
  const done = new Set<string>();
  const deleteAll = (list: readonly TrackedHost[]) =>
    forEachLimit(list, c.concurrency, signal, async (t) => {
      if (done.has(t.id)) return;
      done.add(t.id);
      if (spared(t)) return;
      try {
        if (await deleteHost(c.hosts, t.id, owns)) {
          c.board.release(t.hostname);
          log.info("host entry deleted", { hostname: t.hostname, hostId: t.id });
        } else {
          log.warn("tracked entry is not ours (comment or tags changed); left alone", {
            hostname: t.hostname,
            hostId: t.id,
          });
        }
      } catch (e) {
        remaining.push(t);
        failures.push({ hostname: t.hostname, error: e });
      }
    });
  await deleteAll(tracked);
  if (failures.length === 0) {
    try {
      const untracked = (await c.hosts.searchHosts(comment))
        .filter((e) => owns(e) && !done.has(e.id))
        .map((e) => ({ hostname: e.hostname, id: e.id }))
        .filter((t) => !spared(t));
      if (untracked.length > 0) {
        log.info("deleting entries of this object that the annotation did not list", {
          hostnames: untracked.map((t) => t.hostname),
        });
      }
      await deleteAll(untracked);
    } catch (e) {
      failures.push({ hostname: "(search by comment)", error: e });
    }
  }
  if (signal?.aborted) {
    remaining.push(...tracked.filter((t) => !done.has(t.id)));
    failures.push({ hostname: "(cancelled)", error: new Error("reconcile cancelled") });
  }
  if (failures.length > 0) {
    if (serializeHostIds(remaining) !== recorded) {
      await c.entries.record(key, view, recorded, remaining, log);
    }
    c.report.cleanupFailed(view, failures, log);
  }
  log.info("all host entries deleted; removing the finalizer", { deleted: done.size });
  c.settled();
  return {};
}

/**
 * Deletion under upsert-only or `on-delete: retain`: the entries stay and
 * the finalizer goes at once. Each tracked entry is tagged `retained`
 * (best effort: a failure is logged, never holds the finalizer), so the
 * orphan sweep leaves it; an object of the same name adopts it again.
 */
async function retainEntries<V extends SourceView>(
  c: CleanupContext<V>,
  key: string,
  view: V,
  log: Logger,
): Promise<Outcome> {
  const why = mayDelete(c.policy)
    ? `annotation router-hosts.fzymgc.house/on-delete: retain`
    : "--policy=upsert-only";
  let kept = 0;
  try {
    const { tracked } = await c.entries.tracked(key, view, c.comment, c.claims, log);
    await forEachLimit(tracked, c.concurrency, undefined, async (t) => {
      try {
        const entry = await c.hosts.getHost(t.id);
        if (!c.owns(entry)) return;
        kept++;
        if (entry.tags.includes(RETAINED_TAG)) return;
        await c.hosts.updateHost({
          id: entry.id,
          expectedVersion: entry.version,
          tags: [...entry.tags, RETAINED_TAG],
        });
      } catch (e) {
        log.warn("could not tag a retained entry; the orphan sweep may delete it", {
          hostname: t.hostname,
          hostId: t.id,
          error: errorText(e),
        });
      }
    });
  } catch (e) {
    log.warn("could not read this object's entries to tag them retained", {
      error: errorText(e),
    });
  }
  log.info(`object deleted; its host entries are kept (${why}); removing the finalizer`, {
    kept,
  });
  c.settled();
  return {};
}
