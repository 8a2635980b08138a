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
 * Policy (hosts/policy.ts) applies here, so every source gets it: hostnames
 * outside the domain filter are neither written nor deleted (one
 * `DomainFiltered` Event per object); upsert-only adds no finalizer and
 * deletes nothing; `on-delete: retain` keeps the entries of a deleted object
 * (tagged `retained`, so the orphan sweep leaves them); with an owner id
 * every entry carries `owner:<id>` and entries of another owner are never
 * touched. An entry of our ip+hostname that another of our objects (or
 * another installation) holds is a hostname conflict: the holder keeps it,
 * this object gets one `HostnameConflict` Warning Event, is not retried,
 * and reports the hostname, so its wiring waits on the ConflictBoard until
 * the holder deletes the entry.
 *
 * Each kind has its own informer, queue and controller, so objects of two
 * kinds with the same namespace/name never shadow each other. Kinds whose
 * comments are the same (IngressRoute and IngressRouteTCP: the Go format has
 * no kind in it) form a {@link Source.commentGroup}: each leaves alone the
 * entries the other object of the same name tracks or wants ({@link Claims}).
 *
 * A reconcile returns what happened, a {@link SyncReport} (engine/sync_report.ts):
 * the outcome or error, the entries the key holds, its conflicts and the
 * hostnames it released; the wiring (engine/wiring.ts) books it. The
 * deletion paths (deleted: delete or retain; no longer selected or out of
 * the watch scope: release) are in engine/cleanup.ts, reading and
 * recording the tracked entries in engine/tracking.ts.
 *
 * @module
 */
import type { HostsPort } from "../../grpc/hosts_port.ts";
import type { EventRecorder } from "../../k8s/events.ts";
import { finalizeReporting } from "../../k8s/finalizer.ts";
import type { ObjectWriter } from "../../k8s/object_writer.ts";
import { isNotFound } from "../../k8s/client.ts";
import type { Logger } from "../../observability/log.ts";
import { planSync, serializeHostIds, type SyncPlan, type TrackedHost } from "./host_ids.ts";
import { deleteHost, type EnsureAction, ensureHost, forEachLimit } from "../hosts/sync.ts";
import { canonicalIp } from "../hosts/ip.ts";
import {
  DEFAULT_POLICY,
  domainAllowed,
  entryTags,
  isHostnameConflict,
  mayDelete,
  type Policy,
  withOwner,
} from "../hosts/policy.ts";
import {
  capHosts,
  type Claims,
  filterDesired,
  NO_CLAIMS,
  ownsEntry,
  type Source,
  type SourceContext,
  type SourceView,
} from "./source.ts";
import { type CleanupContext, cleanupEntries, releaseEntries } from "./cleanup.ts";
import { type HostFailure, SourceEvents } from "./events.ts";
import { failureError } from "./sync_error.ts";
import { asError, type SyncReport } from "./sync_report.ts";
import { TrackedEntries } from "./tracking.ts";

/** Hostnames of one object handled at once: a route with 200 hosts converges quickly. */
export const HOST_CONCURRENCY = 8;

/** Dependencies of {@link SourceReconciler}. */
export interface SourceReconcilerDeps<V extends SourceView> {
  source: Source<V>;
  hosts: HostsPort;
  events: EventRecorder;
  log: Logger;
  context: SourceContext;
  /** Names of the other kinds of the comment group, for log lines. */
  peers?: string;
  /** Hostnames of one object handled concurrently (default {@link HOST_CONCURRENCY}). */
  concurrency?: number;
  /** Domain filter, policy and owner id; {@link DEFAULT_POLICY} when omitted. */
  policy?: Policy;
}

/** One reconcile's input: the cached object and what it is checked against. */
export interface SyncInput<V extends SourceView> {
  key: string;
  /** The object as cached. */
  view: V;
  /** Writes the object (finalizer, annotation) and feeds the result back into the cache. */
  writer: ObjectWriter<V>;
  /** What objects of the same comment group with this key hold; none when omitted. */
  claims?: Claims;
}

/** Reconciles one key of one source against router-hosts. */
export class SourceReconciler<V extends SourceView> {
  readonly #d: SourceReconcilerDeps<V>;
  readonly #s: Source<V>;
  readonly #report: SourceEvents<V>;
  readonly #entries: TrackedEntries<V>;
  readonly #policy: Policy;

  constructor(deps: SourceReconcilerDeps<V>) {
    this.#d = deps;
    this.#s = deps.source;
    this.#report = new SourceEvents(deps.source, deps.events);
    this.#entries = new TrackedEntries({
      source: deps.source,
      hosts: deps.hosts,
      report: this.#report,
    });
    this.#policy = deps.policy ?? DEFAULT_POLICY;
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string, uid?: string): void {
    this.#entries.forget(key);
    this.#report.forget(key, uid);
  }

  /** The entry of the source with the owner rule: what we may adopt, update and delete. */
  #owns(comment: string) {
    return withOwner(this.#policy, ownsEntry(comment, this.#s.adoptTags));
  }

  /**
   * Level-triggered: makes the server match the cached object, and reports
   * what happened (never throws: a failure is the report's error).
   */
  async reconcile(input: SyncInput<V>, signal?: AbortSignal): Promise<SyncReport> {
    const log = this.#d.log.with({ key: input.key });
    const { view } = input;
    if (!view.deletionTimestamp && this.#s.selected && !this.#s.selected(view)) {
      return await releaseEntries(this.#context(input), input.key, view, log, signal)
        .catch((e) => ({ error: asError(e) }));
    }
    return await finalizeReporting(input.writer, this.#s.finalizer, view, {
      apply: (v, ensureFinalizer) =>
        this.#apply({ ...input, view: v }, ensureFinalizer, log, signal),
      cleanup: (v) => cleanupEntries(this.#context(input), input.key, v, log, signal),
    });
  }

  /**
   * An object that left the watch scope (--label-selector), as last seen:
   * released like an object no longer selected. One already deleted is done.
   */
  async releaseDeparted(input: SyncInput<V>, signal?: AbortSignal): Promise<SyncReport> {
    const log = this.#d.log.with({ key: input.key });
    const { view } = input;
    if (view.finalizers.includes(this.#s.finalizer) || view.hostIds !== undefined) {
      log.info("left the watch scope (--label-selector)");
    }
    try {
      return await releaseEntries(this.#context(input), input.key, input.view, log, signal, true);
    } catch (e) {
      return isNotFound(e) ? {} : { error: asError(e) };
    }
  }

  async #apply(
    input: SyncInput<V>,
    ensureFinalizer: () => Promise<V>,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<SyncReport> {
    const { key, view, writer } = input;
    const desired = capHosts(
      this.#policy,
      filterDesired(this.#policy, this.#s.desiredHosts(view, this.#d.context)),
    );
    this.#report.problems(key, view, desired, log);
    // Without hosts no IP is needed: entries that are no longer wanted go all the same.
    const found = desired.hosts.length === 0
      ? { ip: "" }
      : await this.#s.ingressIP(view, this.#d.context);
    if ("missing" in found) {
      this.#report.noIngressIP(view, desired.hosts, found, log);
      return found.retry ? { error: new Error(found.missing) } : {};
    }
    // One spelling per address (hosts/ip.ts), in entries and Events alike.
    const ingress = "ip" in found ? { ...found, ip: canonicalIp(found.ip) ?? found.ip } : found;
    this.#report.gotIngressIP(view.uid);

    const comment = this.#s.comment(view.namespace, view.name);
    const owns = this.#owns(comment);
    const claims = input.claims ?? NO_CLAIMS;
    const { tracked, recorded } = await this.#entries.tracked(key, view, comment, claims, log);
    // One entry per hostname and IP (a hostname at several IPs has several).
    const entries = desired.hosts.flatMap((hostname) =>
      [
        ...new Set(
          ("byHost" in ingress ? ingress.byHost[hostname.toLowerCase()] ?? [] : [ingress.ip])
            .map((ip) => canonicalIp(ip) ?? ip),
        ),
      ].map((ip) => ({ hostname, ip }))
    );
    const plan = planSync(tracked, entries.map((e) => e.hostname));
    // Part of the object that does not read may still name hosts we track:
    // keep them until it reads again rather than delete entries a typo hid.
    // Upsert-only deletes nothing, and names outside the domain filter are
    // not ours to delete.
    const keep = (t: TrackedHost) =>
      desired.incomplete || !mayDelete(this.#policy) || !domainAllowed(this.#policy, t.hostname);
    const stale = plan.stale.filter((t) => !keep(t));
    const kept: TrackedHost[] = plan.stale.filter(keep);
    if (plan.ensure.length === 0 && stale.length === 0 && recorded === serializeHostIds(kept)) {
      return { managed: kept.length, conflicts: [] };
    }

    // Upsert-only never deletes, so it needs no finalizer.
    const current = mayDelete(this.#policy) ? await ensureFinalizer() : view;
    const failures: HostFailure[] = [];
    // In plan order, so a hostname's first entry keeps the plain annotation key.
    const ensured: (TrackedHost | undefined)[] = plan.ensure.map(() => undefined);
    const next: TrackedHost[] = [...kept];
    const actions = new Map<EnsureAction, string[]>();
    const recreated: string[] = [];
    const leftToPeers: string[] = [];
    const deleted: string[] = [];
    type Op = { ensure: SyncPlan["ensure"][number]; ip: string; at: number } | {
      stale: TrackedHost;
    };
    const ops: Op[] = [
      ...plan.ensure.map((ensure, at) => ({ ensure, ip: entries[at].ip, at })),
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
              ipAddress: op.ip,
              hostname,
              comment,
              aliases: [...desired.aliases?.[hostname] ?? []],
              tags: entryTags(this.#policy, this.#s.tags),
            },
            knownId,
            owns,
            { knownMustBeOwned: true },
          );
          ensured[op.at] = { hostname, id: result.entry.id };
          if (result.action !== "unchanged") {
            const what = "byHost" in ingress ? `${hostname} → ${op.ip}` : hostname;
            actions.set(result.action, [...actions.get(result.action) ?? [], what]);
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
          if (knownId) ensured[op.at] = { hostname, id: knownId };
          failures.push({ hostname, error: e });
        }
        return;
      }
      const { hostname, id } = op.stale;
      if (claims.ids.has(id) || claims.hostnames.has(hostname.toLowerCase())) {
        leftToPeers.push(hostname);
        return;
      }
      try {
        if (await deleteHost(this.#d.hosts, id, owns)) {
          deleted.push(hostname);
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
    if (leftToPeers.length > 0) {
      log.info(
        `hostnames no longer wanted are still used by the ${this.#d.peers} of the same name; their entries are left to it`,
        { hostnames: leftToPeers },
      );
    }

    next.push(...ensured.filter((t) => t !== undefined));
    // Record progress before reporting failures, so no created id is lost.
    try {
      await this.#entries.record(key, writer, current, recorded, next, log);
    } catch (e) {
      return { error: asError(e), released: deleted };
    }

    if (recreated.length > 0) this.#report.recreated(current, recreated);
    const updated = actions.get("updated") ?? [];
    if (updated.length > 0) this.#report.updated(current, updated, ingress);
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
    const conflicts = failures.filter((f) => isHostnameConflict(f.error));
    this.#report.hostnameConflicts(key, current, conflicts, log);
    const report: SyncReport = {
      managed: next.length,
      conflicts: conflicts.map((f) => f.hostname),
      released: deleted,
    };
    const rest = failures.filter((f) => !conflicts.includes(f));
    if (rest.length > 0) {
      const summary = this.#report.syncFailed(current, rest, ops.length, log);
      return { ...report, error: failureError(rest.map((f) => f.error), summary) };
    }
    if (signal?.aborted) {
      return { ...report, error: new Error("reconcile cancelled; progress recorded") };
    }
    return report;
  }

  /** What the deletion paths (engine/cleanup.ts) need of this engine for the key. */
  #context(input: SyncInput<V>): CleanupContext<V> {
    const comment = this.#s.comment(input.view.namespace, input.view.name);
    return {
      hosts: this.#d.hosts,
      policy: this.#policy,
      finalizer: this.#s.finalizer,
      entries: this.#entries,
      writer: input.writer,
      report: this.#report,
      concurrency: this.#d.concurrency ?? HOST_CONCURRENCY,
      comment,
      owns: this.#owns(comment),
      claims: input.claims ?? NO_CLAIMS,
    };
  }
}
