/**
 * The source engine's deletion paths: what happens to an object's entries
 * when it is deleted, no longer selected, or leaves the watch scope. Either they are deleted —
 * the tracked ones, then those with our comment and tags that the
 * annotation missed — or, under upsert-only or `on-delete: retain`, they
 * are kept and tagged `retained`.
 *
 * engine/reconcile.ts decides when this runs (under the finalizer, or when
 * an object stops being selected); this module performs the cleanup and
 * returns what happened as a {@link SyncReport}.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import type { ObjectWriter } from "../../k8s/object_writer.ts";
import type { Logger } from "../../observability/log.ts";
import { HOST_IDS_ANNOTATION, serializeHostIds, type TrackedHost } from "./host_ids.ts";
import { deleteHost, forEachLimit } from "../hosts/sync.ts";
import { deletesOnDelete, domainAllowed, mayDelete, type Policy } from "../hosts/policy.ts";
import { retainEntries } from "../hosts/retain.ts";
import type { Claims, SourceView } from "./source.ts";
import type { HostFailure, SourceEvents } from "./events.ts";
import { asError, type SyncReport } from "./sync_report.ts";
import { errorText, type TrackedEntries } from "./tracking.ts";

/** What the cleanup of one key needs from the engine. */
export interface CleanupContext<V extends SourceView> {
  hosts: HostsPort;
  policy: Policy;
  /** The source's finalizer. */
  finalizer: string;
  entries: TrackedEntries<V>;
  writer: ObjectWriter<V>;
  report: SourceEvents<V>;
  /** Hostnames of one object handled concurrently. */
  concurrency: number;
  /** The object's comment. */
  comment: string;
  /** The entry of the source with the owner rule: what we may delete. */
  owns: (entry: HostEntry) => boolean;
  /** What objects of the same comment group with this key hold. */
  claims: Claims;
}

/**
 * Deletes the entries of a deleted object, or keeps them (see
 * {@link retainOnDelete}) when the policy or the object says so. While an
 * entry could not be deleted the report carries an error, so the finalizer
 * stays.
 */
export async function cleanupEntries<V extends SourceView>(
  c: CleanupContext<V>,
  key: string,
  view: V,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<SyncReport> {
  const { comment, owns, claims } = c;
  const spared = (t: TrackedHost) =>
    claims.ids.has(t.id) || claims.hostnames.has(t.hostname.toLowerCase()) ||
    !domainAllowed(c.policy, t.hostname);
  if (!deletesOnDelete(c.policy, view.retain === true)) {
    return await retainOnDelete(c, key, view, log);
  }
  const { tracked, recorded } = await c.entries.tracked(key, view, comment, claims, log);

  const failures: HostFailure[] = [];
  const remaining: TrackedHost[] = [];
  const done = new Set<string>();
  const released: string[] = [];
  const deleteAll = (list: readonly TrackedHost[]) =>
    forEachLimit(list, c.concurrency, signal, async (t) => {
      if (done.has(t.id)) return;
      done.add(t.id);
      if (spared(t)) return;
      try {
        if (await deleteHost(c.hosts, t.id, owns)) {
          released.push(t.hostname);
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
    try {
      if (serializeHostIds(remaining) !== recorded) {
        await c.entries.record(key, c.writer, view, recorded, remaining, log);
      }
      return { released, error: new Error(c.report.cleanupFailed(view, failures, log)) };
    } catch (e) {
      return { released, error: asError(e) };
    }
  }
  log.info("all host entries deleted; removing the finalizer", { deleted: done.size });
  c.entries.forget(key);
  return { managed: 0, conflicts: [], released };
}

/**
 * Deletion under upsert-only or `on-delete: retain`: the entries stay,
 * tagged `retained` (hosts/retain.ts), and the finalizer goes at once.
 */
async function retainOnDelete<V extends SourceView>(
  c: CleanupContext<V>,
  key: string,
  view: V,
  log: Logger,
): Promise<SyncReport> {
  const why = mayDelete(c.policy)
    ? `annotation router-hosts.fzymgc.house/on-delete: retain`
    : "--policy=upsert-only";
  let kept = 0;
  try {
    const { tracked } = await c.entries.tracked(key, view, c.comment, c.claims, log);
    kept = await retainEntries(c.hosts, tracked, c.owns, log, c.concurrency);
  } catch (e) {
    log.warn("could not read this object's entries to tag them retained", {
      error: errorText(e),
    });
  }
  log.info(`object deleted; its host entries are kept (${why}); removing the finalizer`, {
    kept,
  });
  c.entries.forget(key);
  return { managed: 0, conflicts: [] };
}

/**
 * An object that is no longer selected (or, `departed`, left the watch
 * scope, as last seen): delete its entries, then remove the annotation and
 * our finalizer. One that never had either costs no request.
 */
export async function releaseEntries<V extends SourceView>(
  c: CleanupContext<V>,
  key: string,
  view: V,
  log: Logger,
  signal: AbortSignal | undefined,
  departed = false,
): Promise<SyncReport> {
  const hasFinalizer = view.finalizers.includes(c.finalizer);
  if (!hasFinalizer && view.hostIds === undefined) return {};
  log.info("no longer selected; deleting its entries");
  const report = await cleanupEntries(c, key, view, log, signal);
  if (report.error) return report;
  const current = view.hostIds === undefined
    ? view
    : await c.writer.writeAnnotations(view, { [HOST_IDS_ANNOTATION]: null }, {
      unguarded: departed,
    });
  if (hasFinalizer) await c.writer.removeFinalizer(current, c.finalizer);
  c.report.forget(key, view.uid);
  return report;
}
