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
 * The deletion path (delete or retain) is in engine/cleanup.ts, reading and
 * recording the tracked entries in engine/tracking.ts.
 *
 * @module
 */
import type { HostsPort } from "../../grpc/hosts_port.ts";
import type { Outcome } from "../../k8s/controller.ts";
import type { EventRecorder } from "../../k8s/events.ts";
import { finalize } from "../../k8s/finalizer.ts";
import type { ObjectWriter } from "../../k8s/object_writer.ts";
import { isNotFound } from "../../k8s/client.ts";
import type { Store } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import {
  HOST_IDS_ANNOTATION,
  planSync,
  serializeHostIds,
  type SyncPlan,
  type TrackedHost,
} from "./host_ids.ts";
import { deleteHost, type EnsureAction, ensureHost } from "../hosts/sync.ts";
import { canonicalIp } from "../hosts/ip.ts";
import {
  capHosts,
  ConflictBoard,
  DEFAULT_POLICY,
  domainAllowed,
  entryTags,
  filterDesired,
  isHostnameConflict,
  mayDelete,
  type Policy,
  withOwner,
} from "../hosts/policy.ts";
import {
  type Claims,
  NO_CLAIMS,
  ownsEntry,
  type Source,
  type SourceContext,
  type SourceView,
} from "./source.ts";
import { cleanupEntries } from "./cleanup.ts";
import { type HostFailure, SourceEvents } from "./events.ts";
import { forEachLimit, TrackedEntries } from "./tracking.ts";

/** Hostnames of one object handled at once: a route with 200 hosts converges quickly. */
export const HOST_CONCURRENCY = 8;

/** Dependencies of {@link SourceReconciler}. */
export interface SourceReconcilerDeps<V extends SourceView> {
  source: Source<V>;
  hosts: HostsPort;
  writer: ObjectWriter<V>;
  get: (key: string) => V | undefined;
  /** Objects that left the watch scope, as last seen (k8s/builder.ts); removed once released. */
  departed?: Store<V>;
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

/** Reconciles one key of one source against router-hosts. */
export class SourceReconciler<V extends SourceView> {
  readonly #d: SourceReconcilerDeps<V>;
  readonly #s: Source<V>;
  readonly #report: SourceEvents<V>;
  readonly #entries: TrackedEntries<V>;
  readonly #policy: Policy;
  readonly #board: ConflictBoard;

  constructor(deps: SourceReconcilerDeps<V>) {
    this.#d = deps;
    this.#s = deps.source;
    this.#report = new SourceEvents(deps.source, deps.events);
    this.#entries = new TrackedEntries({
      source: deps.source,
      hosts: deps.hosts,
      writer: deps.writer,
      report: this.#report,
      tracked: (key, count) => deps.tracked?.(key, count),
    });
    this.#policy = deps.policy ?? DEFAULT_POLICY;
    this.#board = deps.conflicts ?? new ConflictBoard();
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string, uid?: string): void {
    this.#entries.forget(key);
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
    if (!view) return await this.#departed(key, signal);
    const log = this.#d.log.with({ key });
    if (!view.deletionTimestamp && this.#s.selected && !this.#s.selected(view)) {
      return await this.#release(key, view, log, signal);
    }
    return await finalize(this.#d.writer, this.#s.finalizer, view, {
      apply: (v, ensureFinalizer) => this.#apply(key, v, ensureFinalizer, log, signal),
      cleanup: (v) => this.#cleanup(key, v, log, signal),
    });
  }

  /**
   * An object that left the watch scope (its labels no longer match
   * `--label-selector`) is released like one no longer selected; an object
   * gone meanwhile is fine.
   */
  async #departed(key: string, signal?: AbortSignal): Promise<Outcome> {
    const view = this.#d.departed?.get(key);
    if (!view) return {};
    const log = this.#d.log.with({ key });
    try {
      if (view.finalizers.includes(this.#s.finalizer) || view.hostIds !== undefined) {
        log.info("left the watch scope (--label-selector)");
      }
      await this.#release(key, view, log, signal, true);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.#d.departed?.apply(key, undefined);
    return {};
  }

  /**
   * An object that is no longer selected: delete its entries, then remove
   * the annotation and our finalizer. One that never was costs no request.
   */
  async #release(
    key: string,
    view: V,
    log: Logger,
    signal?: AbortSignal,
    departed = false,
  ): Promise<Outcome> {
    const hasFinalizer = view.finalizers.includes(this.#s.finalizer);
    if (!hasFinalizer && view.hostIds === undefined) return {};
    log.info("no longer selected; deleting its entries");
    await this.#cleanup(key, view, log, signal);
    const current = view.hostIds === undefined
      ? view
      : await this.#d.writer.writeAnnotations(view, { [HOST_IDS_ANNOTATION]: null }, {
        unguarded: departed,
      });
    if (hasFinalizer) await this.#d.writer.removeFinalizer(current, this.#s.finalizer);
    this.#report.forget(key, view.uid);
    return {};
  }

  async #apply(
    key: string,
    view: V,
    ensureFinalizer: () => Promise<V>,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
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
      if (found.retry) throw new Error(found.missing);
      return {};
    }
    // One spelling per address (hosts/ip.ts), in entries and Events alike.
    const ingress = "ip" in found ? { ...found, ip: canonicalIp(found.ip) ?? found.ip } : found;
    this.#report.gotIngressIP(view.uid);

    const comment = this.#s.comment(view.namespace, view.name);
    const owns = this.#owns(comment);
    const claims = this.#d.claims?.(key) ?? NO_CLAIMS;
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
      this.#d.tracked?.(key, kept.length);
      this.#setConflicts(key, []);
      return {};
    }

    // Upsert-only never deletes, so it needs no finalizer.
    const current = mayDelete(this.#policy) ? await ensureFinalizer() : view;
    const failures: HostFailure[] = [];
    // In plan order, so a hostname's first entry keeps the plain annotation key.
    const ensured: (TrackedHost | undefined)[] = plan.ensure.map(() => undefined);
    const next: TrackedHost[] = [...kept];
    const actions = new Map<EnsureAction, string[]>();
    const recreated: string[] = [];
    const released: string[] = [];
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

    next.push(...ensured.filter((t) => t !== undefined));
    // Record progress before reporting failures, so no created id is lost.
    await this.#entries.record(key, current, recorded, next, log);

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
    this.#setConflicts(key, conflicts.map((f) => f.hostname));
    this.#report.hostnameConflicts(key, current, conflicts, log);
    const rest = failures.filter((f) => !conflicts.includes(f));
    if (rest.length > 0) this.#report.syncFailed(current, rest, ops.length, log);
    if (signal?.aborted) throw new Error("reconcile cancelled; progress recorded");
    return {};
  }

  /** The deletion path (engine/cleanup.ts) with this engine's state for `key`. */
  #cleanup(key: string, view: V, log: Logger, signal: AbortSignal | undefined): Promise<Outcome> {
    const comment = this.#s.comment(view.namespace, view.name);
    return cleanupEntries(
      {
        hosts: this.#d.hosts,
        policy: this.#policy,
        board: this.#board,
        entries: this.#entries,
        report: this.#report,
        concurrency: this.#d.concurrency ?? HOST_CONCURRENCY,
        comment,
        owns: this.#owns(comment),
        claims: this.#d.claims?.(key) ?? NO_CLAIMS,
        settled: () => {
          this.#d.tracked?.(key, 0);
          this.#entries.forget(key);
          this.#setConflicts(key, []);
        },
      },
      key,
      view,
      log,
      signal,
    );
  }
}
