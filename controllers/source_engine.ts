/**
 * The source engine: one reconciler for every kind whose objects declare
 * hostnames (IngressRoute, IngressRouteTCP, the Gateway API routes, ...).
 * A kind is a short {@link Source} description — its resource, finalizer,
 * comment, tags, which hostnames and which IP an object wants, and which
 * other objects it depends on; the engine does the rest the same way for
 * all of them:
 *
 * - every (hostname, IP) becomes one router-hosts entry with the source's
 *   comment `<prefix>:<namespace>/<name>` and tags; updates are
 *   compare-then-update with the entry's version; an in-sync object costs
 *   reads only;
 * - which entry belongs to which hostname is kept on the object in the
 *   `host-ids` annotation (host_ids.ts), so a hostname dropped from the
 *   object is deleted (also when none is left) and entries survive restarts;
 * - an entry is adopted only when it carries the comment and the source's
 *   adoption tags; anything else with our ip+hostname is refused
 *   (AdoptionRefused) and never touched;
 * - the finalizer is added before the first entry is written and removed
 *   after every entry is gone (k8s/finalizer.ts {@link finalize}).
 *
 * Recovery, so no entry is ever silently orphaned:
 * - a corrupt annotation: Warning Event `CorruptAnnotation` and an error
 *   log; the object's entries are found on the server by comment and tags
 *   (SearchHosts) and tracked from there, and the annotation is rewritten;
 * - an annotation write that fails (e.g. 409 because the object changed):
 *   the ids are kept in memory and merged into the next reconcile;
 * - on deletion, after the tracked entries are gone, entries with our
 *   comment and tags that the annotation missed (a crash between AddHost
 *   and the annotation write) are deleted too.
 *
 * An id in the annotation is trusted only while its entry still carries our
 * comment and tags: an annotation copied along with a manifest never lets
 * the copy update or delete the original's entries.
 *
 * Policy (policy.ts) applies here, so every source gets it: hostnames
 * outside the domain filter are neither written nor deleted (one
 * `DomainFiltered` Event per object); upsert-only adds no finalizer and
 * deletes nothing; `on-delete: retain` keeps the entries of a deleted object
 * (tagged `retained`, so the orphan sweep leaves them); with an owner id
 * every entry carries `owner:<id>` and entries of another owner are never
 * touched. An entry of our ip+hostname that another of our objects (or
 * another installation) holds is a hostname conflict: the holder keeps it,
 * this object gets one `HostnameConflict` Warning Event, is not retried,
 * and waits on the {@link ConflictBoard} until the holder deletes the entry.
 *
 * Each kind has its own informer, queue and controller, so objects of two
 * kinds with the same namespace/name never shadow each other. Kinds whose
 * comments are the same (IngressRoute and IngressRouteTCP: the Go format has
 * no kind in it) form a {@link Source.commentGroup}: each leaves alone the
 * entries the other object of the same name tracks or wants ({@link Claims}).
 *
 * @module
 */
import type { Outcome } from "../k8s/controller.ts";
import type { EventRecorder } from "../k8s/events.ts";
import { finalize } from "../k8s/finalizer.ts";
import type { ObjectWriter } from "../k8s/object_writer.ts";
import type { Logger } from "../observability/log.ts";
import {
  HOST_IDS_ANNOTATION,
  parseHostIds,
  planSync,
  serializeHostIds,
  type SyncPlan,
  type TrackedHost,
} from "./host_ids.ts";
import { AdoptionRefusedError, deleteHost, type EnsureAction, ensureHost } from "./host_sync.ts";
import {
  ConflictBoard,
  DEFAULT_POLICY,
  deletesOnDelete,
  domainAllowed,
  entryTags,
  filterDesired,
  isOperatorEntry,
  mayDelete,
  type Policy,
  RETAINED_TAG,
  withOwner,
} from "./policy.ts";
import {
  type Claims,
  NO_CLAIMS,
  ownsEntry,
  type Source,
  type SourceContext,
  type SourceHostsApi,
  type SourceView,
} from "./source.ts";
import { type HostFailure, SourceEvents } from "./source_events.ts";

/** Hostnames of one object handled at once: a route with 200 hosts converges quickly. */
export const HOST_CONCURRENCY = 8;

/** Dependencies of {@link SourceReconciler}. */
export interface SourceReconcilerDeps<V extends SourceView> {
  source: Source<V>;
  hosts: SourceHostsApi;
  writer: ObjectWriter<V>;
  get: (key: string) => V | undefined;
  events: EventRecorder;
  log: Logger;
  context: SourceContext;
  /** What objects of the same comment group with this key hold; none when omitted. */
  claims?: (key: string) => Claims;
  /** Names of the other kinds of the comment group, for log lines. */
  peers?: string;
  /** Reports how many entries a key tracks (router_hosts_managed_hosts). */
  tracked?: (key: string, count: number) => void;
  /** Hostnames of one object handled concurrently (default {@link HOST_CONCURRENCY}). */
  concurrency?: number;
  /** Domain filter, policy and owner id; {@link DEFAULT_POLICY} when omitted. */
  policy?: Policy;
  /** Where conflict losers wait for a hostname; shared by every controller of the process. */
  conflicts?: ConflictBoard;
  /** Enqueues `key` (a conflict's loser, when the hostname it waits for is released). */
  wake?: (key: string) => void;
  /** Reports how many hostnames of a key another object holds (router_hosts_hostname_conflicts). */
  conflicting?: (key: string, count: number) => void;
}

/** Runs `fn` over `items`, at most `limit` at a time, none started after `signal` aborts. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Reconciles one key of one source against router-hosts. */
export class SourceReconciler<V extends SourceView> {
  readonly #d: SourceReconcilerDeps<V>;
  readonly #s: Source<V>;
  /** Ids whose annotation write failed, merged into the next reconcile of the key. */
  readonly #unrecorded = new Map<string, TrackedHost[]>();
  readonly #report: SourceEvents<V>;
  readonly #policy: Policy;
  readonly #board: ConflictBoard;

  constructor(deps: SourceReconcilerDeps<V>) {
    this.#d = deps;
    this.#s = deps.source;
    this.#report = new SourceEvents(deps.source, deps.events);
    this.#policy = deps.policy ?? DEFAULT_POLICY;
    this.#board = deps.conflicts ?? new ConflictBoard();
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string, uid?: string): void {
    this.#unrecorded.delete(key);
    this.#report.forget(key, uid);
    this.#setConflicts(key, []);
  }

  /** The entry of the source with the owner rule: what we may adopt, update and delete. */
  #owns(comment: string) {
    return withOwner(this.#policy, ownsEntry(comment, this.#s.adoptTags));
  }

  #waiter(key: string): string {
    return `${this.#s.controller}/${key}`;
  }

  /** Records the hostnames of `key` that another object holds, and waits for them. */
  #setConflicts(key: string, hostnames: readonly string[]): void {
    this.#board.forget(this.#waiter(key));
    for (const h of hostnames) {
      this.#board.wait(h, this.#waiter(key), () => this.#d.wake?.(key));
    }
    this.#d.conflicting?.(key, hostnames.length);
  }

  /** Level-triggered: reads the cached object and makes the server match it. */
  async reconcile(key: string, signal?: AbortSignal): Promise<Outcome> {
    const view = this.#d.get(key);
    if (!view) return {};
    const log = this.#d.log.with({ key });
    return await finalize(this.#d.writer, this.#s.finalizer, view, {
      apply: (v, ensureFinalizer) => this.#apply(key, v, ensureFinalizer, log, signal),
      cleanup: (v) => this.#cleanup(key, v, log, signal),
    });
  }

  async #apply(
    key: string,
    view: V,
    ensureFinalizer: () => Promise<V>,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const desired = filterDesired(this.#policy, this.#s.desiredHosts(view));
    this.#report.problems(key, view, desired, log);
    const ingress = await this.#s.ingressIP(view, this.#d.context);
    if ("missing" in ingress) {
      this.#report.noIngressIP(view, desired.hosts, ingress, log);
      return {};
    }
    this.#report.gotIngressIP(view.uid);

    const comment = this.#s.comment(view.namespace, view.name);
    const owns = this.#owns(comment);
    const claims = this.#d.claims?.(key) ?? NO_CLAIMS;
    const { tracked, recorded } = await this.#tracked(key, view, comment, claims, log);
    const plan = planSync(tracked, desired.hosts);
    // Part of the object that does not read may still name hosts we track:
    // keep them until it reads again rather than delete entries a typo hid.
    // Upsert-only deletes nothing, and names outside the domain filter are
    // not ours to delete.
    const keep = (t: TrackedHost) =>
      desired.incomplete || !mayDelete(this.#policy) || !domainAllowed(this.#policy, t.hostname);
    const stale = plan.stale.filter((t) => !keep(t));
    const kept: TrackedHost[] = plan.stale.filter(keep);
    if (plan.ensure.length === 0 && stale.length === 0 && recorded === serializeHostIds(kept)) {
      this.#d.tracked?.(key, kept.length);
      this.#setConflicts(key, []);
      return {};
    }

    // Upsert-only never deletes, so it needs no finalizer.
    const current = mayDelete(this.#policy) ? await ensureFinalizer() : view;
    const failures: HostFailure[] = [];
    const next: TrackedHost[] = [...kept];
    const actions = new Map<EnsureAction, string[]>();
    const recreated: string[] = [];
    const released: string[] = [];
    const deleted: string[] = [];
    type Op = { ensure: SyncPlan["ensure"][number] } | { stale: TrackedHost };
    const ops: Op[] = [
      ...plan.ensure.map((ensure) => ({ ensure })),
      ...stale.map((s) => ({ stale: s })),
    ];
    const concurrency = this.#d.concurrency ?? HOST_CONCURRENCY;
    await forEachLimit(ops, concurrency, signal, async (op) => {
      if ("ensure" in op) {
        const { hostname, knownId } = op.ensure;
        try {
          const result = await ensureHost(
            this.#d.hosts,
            {
              ipAddress: ingress.ip,
              hostname,
              comment,
              aliases: [],
              tags: entryTags(this.#policy, this.#s.tags),
            },
            knownId,
            owns,
            { knownMustBeOwned: true },
          );
          next.push({ hostname, id: result.entry.id });
          if (result.action !== "unchanged") {
            actions.set(result.action, [...actions.get(result.action) ?? [], hostname]);
            log.info(`host entry ${result.action}`, {
              hostname,
              hostId: result.entry.id,
              version: result.entry.version,
            });
          }
          if (result.action === "recreated") {
            recreated.push(`${hostname} (${knownId} → ${result.entry.id})`);
          }
        } catch (e) {
          if (knownId) next.push({ hostname, id: knownId });
          failures.push({ hostname, error: e });
        }
        return;
      }
      const { hostname, id } = op.stale;
      if (claims.ids.has(id) || claims.hostnames.has(hostname.toLowerCase())) {
        released.push(hostname);
        return;
      }
      try {
        if (await deleteHost(this.#d.hosts, id, owns)) {
          deleted.push(hostname);
          this.#board.release(hostname);
          log.info("host entry deleted: hostname no longer wanted", { hostname, hostId: id });
        } else {
          log.warn("tracked entry is not ours (comment or tags changed); left alone", {
            hostname,
            hostId: id,
          });
        }
      } catch (e) {
        next.push(op.stale);
        failures.push({ hostname, error: e });
      }
    });
    if (released.length > 0) {
      log.info(
        `hostnames no longer wanted are still used by the ${this.#d.peers} of the same name; their entries are left to it`,
        { hostnames: released },
      );
    }

    // Record progress before reporting failures, so no created id is lost.
    await this.#record(key, current, recorded, next, log);

    if (recreated.length > 0) this.#report.recreated(current, recreated);
    const changed = [...actions.values()].reduce((n, hs) => n + hs.length, 0) + deleted.length;
    if (changed > 0) {
      log.info("host entries synced", {
        created: actions.get("created")?.length,
        adopted: actions.get("adopted")?.length,
        updated: actions.get("updated")?.length,
        recreated: actions.get("recreated")?.length,
        deleted: deleted.length || undefined,
        tracked: next.length,
      });
    }
    // Hostnames another object holds: it keeps them (never updated or
    // deleted here), and this key waits for it to let go instead of retrying.
    const conflicts = failures.filter((f) =>
      f.error instanceof AdoptionRefusedError && isOperatorEntry(f.error.entry)
    );
    this.#setConflicts(key, conflicts.map((f) => f.hostname));
    this.#report.hostnameConflicts(key, current, conflicts, log);
    const rest = failures.filter((f) => !conflicts.includes(f));
    if (rest.length > 0) this.#report.syncFailed(current, rest, ops.length, log);
    if (signal?.aborted) throw new Error("reconcile cancelled; progress recorded");
    return {};
  }

  /** Writes the annotation when its content changes; remembers it in memory when the write fails. */
  async #record(
    key: string,
    view: V,
    recorded: string | null | undefined,
    next: TrackedHost[],
    log: Logger,
  ): Promise<void> {
    const value = serializeHostIds(next);
    if (value !== recorded) {
      try {
        await this.#d.writer.writeAnnotations(view, { [HOST_IDS_ANNOTATION]: value });
      } catch (e) {
        this.#unrecorded.set(key, next);
        log.warn("could not record host ids in the annotation; kept in memory for the next try", {
          error: errorText(e),
          tracked: next.length,
        });
        throw e;
      }
    }
    this.#unrecorded.delete(key);
    this.#d.tracked?.(key, next.length);
  }

  /**
   * The entries the object tracks: the annotation (or, when it is corrupt,
   * our entries found on the server by comment) plus ids whose recording
   * failed. `recorded` is the annotation's canonical form (undefined when
   * corrupt), to tell whether it must be written.
   */
  async #tracked(
    key: string,
    view: V,
    comment: string,
    claims: Claims,
    log: Logger,
  ): Promise<{ tracked: TrackedHost[]; recorded: string | null | undefined }> {
    const parsed = parseHostIds(view.hostIds);
    let tracked: TrackedHost[];
    let recorded: string | null | undefined;
    if ("error" in parsed) {
      const note = `annotation ${HOST_IDS_ANNOTATION} is corrupt (${parsed.error}); ` +
        `looking up this ${this.#s.resource.kind}'s entries on router-hosts by comment "${comment}" ` +
        `and tags ${this.#s.adoptTags.join(", ")}, and rewriting the annotation from them`;
      log.error("corrupt host-ids annotation", { error: parsed.error, value: view.hostIds });
      this.#report.event(view, "Warning", "CorruptAnnotation", note);
      const owns = ownsEntry(comment, this.#s.adoptTags);
      const found = (await this.#d.hosts.searchHosts(comment)).filter((e) =>
        owns(e) && !claims.ids.has(e.id) && !claims.hostnames.has(e.hostname.toLowerCase())
      );
      tracked = found.map((e) => ({ hostname: e.hostname, id: e.id }));
      log.warn("recovered host ids from router-hosts", {
        found: tracked.length,
        hostnames: tracked.map((t) => t.hostname),
      });
    } else {
      tracked = parsed.tracked;
      recorded = serializeHostIds(tracked);
    }
    for (const t of this.#unrecorded.get(key) ?? []) {
      if (!tracked.some((x) => x.id === t.id)) tracked = [...tracked, t];
    }
    return { tracked, recorded };
  }

  async #cleanup(
    key: string,
    view: V,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const comment = this.#s.comment(view.namespace, view.name);
    const owns = this.#owns(comment);
    const claims = this.#d.claims?.(key) ?? NO_CLAIMS;
    const spared = (t: TrackedHost) =>
      claims.ids.has(t.id) || claims.hostnames.has(t.hostname.toLowerCase()) ||
      !domainAllowed(this.#policy, t.hostname);
    if (!deletesOnDelete(this.#policy, view.retain === true)) {
      return await this.#retain(key, view, comment, claims, log);
    }
    const { tracked, recorded } = await this.#tracked(key, view, comment, claims, log);

    const failures: HostFailure[] = [];
    const remaining: TrackedHost[] = [];
    const done = new Set<string>();
    const deleteAll = (list: readonly TrackedHost[]) =>
      forEachLimit(list, this.#d.concurrency ?? HOST_CONCURRENCY, signal, async (t) => {
        if (done.has(t.id)) return;
        done.add(t.id);
        if (spared(t)) return;
        try {
          if (await deleteHost(this.#d.hosts, t.id, owns)) {
            this.#board.release(t.hostname);
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
        const untracked = (await this.#d.hosts.searchHosts(comment))
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
        await this.#record(key, view, recorded, remaining, log);
      }
      this.#report.cleanupFailed(view, failures, log);
    }
    log.info("all host entries deleted; removing the finalizer", { deleted: done.size });
    this.#d.tracked?.(key, 0);
    this.#unrecorded.delete(key);
    this.#setConflicts(key, []);
    return {};
  }

  /**
   * Deletion under upsert-only or `on-delete: retain`: the entries stay and
   * the finalizer goes at once. Each tracked entry is tagged `retained`
   * (best effort: a failure is logged, never holds the finalizer), so the
   * orphan sweep leaves it; an object of the same name adopts it again.
   */
  async #retain(
    key: string,
    view: V,
    comment: string,
    claims: Claims,
    log: Logger,
  ): Promise<Outcome> {
    const why = mayDelete(this.#policy)
      ? `annotation router-hosts.fzymgc.house/on-delete: retain`
      : "--policy=upsert-only";
    let kept = 0;
    try {
      const { tracked } = await this.#tracked(key, view, comment, claims, log);
      const owns = this.#owns(comment);
      await forEachLimit(tracked, this.#d.concurrency ?? HOST_CONCURRENCY, undefined, async (t) => {
        try {
          const entry = await this.#d.hosts.getHost(t.id);
          if (!owns(entry)) return;
          kept++;
          if (entry.tags.includes(RETAINED_TAG)) return;
          await this.#d.hosts.updateHost({
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
    this.#d.tracked?.(key, 0);
    this.#unrecorded.delete(key);
    this.#setConflicts(key, []);
    return {};
  }
}
