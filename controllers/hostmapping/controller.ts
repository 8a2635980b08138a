/**
 * The HostMapping controller: one `router-hosts.fzymgc.house/v1alpha1`
 * HostMapping becomes one router-hosts entry with comment
 * `k8s:<namespace>/<name>`.
 *
 * The pure parts are in their own modules — the resource, projection and
 * desired entry in hostmapping_view.ts, the status and its reasons in
 * hostmapping_status.ts; {@link HostMappingReconciler} turns them into calls.
 *
 * Policy (policy.ts) applies as in the source engine, and a refusal shows
 * in status too (condition Synced=False): a hostname outside the domain
 * filter (reason `DomainFiltered`), or held by another object (reason
 * `HostnameConflict`: the holder keeps it, no retry; this object is woken
 * when the holder deletes it). Each Event goes out when the status changes,
 * so once per object and change.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import type { Logger } from "../../observability/log.ts";
import { deepEqual } from "../../k8s/equal.ts";
import type { EventRecorder, EventRegarding } from "../../k8s/events.ts";
import { ObjectWriter } from "../../k8s/object_writer.ts";
import type { KubeClient } from "../../k8s/client.ts";
import { ControllerBuilder } from "../../k8s/builder.ts";
import type { Unit } from "../../k8s/manager.ts";
import type { Metrics } from "../../observability/metrics.ts";
import { AdoptionRefusedError, deleteHost, deleteUntracked, ensureHost } from "../hosts/sync.ts";
import { type Outcome, TerminalError } from "../../k8s/controller.ts";
import { hostnameProblem } from "../hosts/hostname.ts";
import {
  ConflictBoard,
  DEFAULT_POLICY,
  deletesOnDelete,
  describeHolder,
  domainRefusal,
  isHostnameConflict,
  mayDelete,
  ownerAllows,
  type Policy,
  RETAINED_TAG,
} from "../hosts/policy.ts";
import { type EntryWakeups, trackersIn } from "../hosts/live.ts";
import {
  classifyError,
  errorStatus,
  type HostMappingStatus,
  statusEquivalent,
  syncedStatus,
} from "./status.ts";
import {
  desiredHost,
  HOSTMAPPING,
  HOSTMAPPING_FINALIZER,
  hostMappingComment,
  type HostMappingView,
  needsReconcile,
  projectHostMapping,
} from "./view.ts";

/** Dependencies of {@link HostMappingReconciler}. */
export interface HostMappingDeps {
  hosts: HostsPort;
  writer: ObjectWriter<HostMappingView>;
  get: (key: string) => HostMappingView | undefined;
  events: EventRecorder;
  log: Logger;
  /** Called with +1/-1 as entries start/stop being managed (router_hosts_managed_hosts). */
  managed?: (key: string, managed: boolean) => void;
  now?: () => Date;
  /** Domain filter, policy and owner id; the defaults when omitted. */
  policy?: Policy;
  /** Where a conflict's loser waits for the hostname; shared by every controller. */
  conflicts?: ConflictBoard;
  /** Enqueues `key` (when the hostname it waits for is released). */
  wake?: (key: string) => void;
  /** Reports whether a key's hostname is held by another object (router_hosts_hostname_conflicts). */
  conflicting?: (key: string, conflict: boolean) => void;
}

function regarding(v: HostMappingView): EventRegarding {
  return {
    apiVersion: `${HOSTMAPPING.group}/${HOSTMAPPING.version}`,
    kind: HOSTMAPPING.kind,
    namespace: v.namespace,
    name: v.name,
    uid: v.uid,
  };
}

/** Reconciles one HostMapping key against router-hosts. */
export class HostMappingReconciler {
  readonly #d: HostMappingDeps;
  readonly #now: () => Date;
  readonly #policy: Policy;
  readonly #board: ConflictBoard;

  constructor(deps: HostMappingDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#policy = deps.policy ?? DEFAULT_POLICY;
    this.#board = deps.conflicts ?? new ConflictBoard();
  }

  /** Records whether `key` waits for `hostname` held by another object. */
  #conflict(key: string, hostname: string | undefined): void {
    const waiter = `${HOSTMAPPING_CONTROLLER}/${key}`;
    this.#board.forget(waiter);
    if (hostname) this.#board.wait(hostname, waiter, () => this.#d.wake?.(key));
    this.#d.conflicting?.(key, hostname !== undefined);
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string): void {
    this.#conflict(key, undefined);
  }

  /**
   * A policy refusal: status Synced=False with `reason`, and a Warning
   * Event when that status is new (so once per object and change). No retry.
   */
  async #refuse(view: HostMappingView, reason: string, message: string, log: Logger) {
    const next = errorStatus(view.status, reason, message, view.generation, this.#now());
    if (statusEquivalent(view.status, next)) return;
    log.warn(message, { reason });
    this.#d.events.event(regarding(view), "Warning", reason, message);
    await this.#writeStatusIfChanged(view, next);
  }

  /** Level-triggered: reads the cached object and makes the server match it. */
  async reconcile(key: string): Promise<Outcome> {
    const view = this.#d.get(key);
    if (!view) return {};
    const log = this.#d.log.with({ key });
    if (view.deletionTimestamp) {
      await this.#cleanup(view, log);
      return {};
    }

    const filtered = domainRefusal(this.#policy, view.spec.hostname);
    if (filtered !== undefined) {
      this.#conflict(key, undefined);
      await this.#refuse(
        view,
        "DomainFiltered",
        `${view.spec.hostname} is ${filtered}: it is neither written to nor deleted from router-hosts`,
        log,
      );
      return {};
    }

    // The CRD refuses these too, but Helm never upgrades a CRD: objects it let in stay refused here.
    const invalid = [view.spec.hostname, ...view.spec.aliases]
      .map((name) => hostnameProblem(name)).find((p) => p !== null);
    if (invalid) {
      this.#conflict(key, undefined);
      await this.#refuse(view, "InvalidSpec", `${invalid}; nothing is written`, log);
      return {};
    }

    let current = view;
    // Upsert-only never deletes, so it needs no finalizer.
    if (mayDelete(this.#policy) && !current.finalizers.includes(HOSTMAPPING_FINALIZER)) {
      current = await this.#d.writer.addFinalizer(current, HOSTMAPPING_FINALIZER);
    }
    const owner = hostMappingComment(current.namespace, current.name);
    const owns = (e: HostEntry) => e.comment === owner && ownerAllows(this.#policy, e);
    try {
      const result = await ensureHost(
        this.#d.hosts,
        desiredHost(current, this.#policy),
        current.status.hostId,
        owns,
      );
      this.#conflict(key, undefined);
      if (result.action === "recreated") {
        const note =
          `host entry ${current.status.hostId} was gone from router-hosts; recreated as ${result.entry.id}`;
        log.info(note, { hostId: result.entry.id });
        this.#d.events.event(regarding(current), "Normal", "Recreated", note);
      } else if (result.action !== "unchanged") {
        log.info(`host entry ${result.action}`, {
          hostId: result.entry.id,
          version: result.entry.version,
        });
      }
      const next = syncedStatus(
        current.status,
        result.entry,
        current.generation,
        this.#now(),
        result.action,
      );
      await this.#writeStatusIfChanged(current, next);
      this.#d.managed?.(key, true);
      return {};
    } catch (e) {
      if (isHostnameConflict(e)) {
        this.#conflict(key, current.spec.hostname);
        await this.#refuse(
          current,
          "HostnameConflict",
          `${current.spec.hostname} is already held (by ${describeHolder(e.entry)}); ` +
            `it keeps the name, and this HostMapping takes over when it lets it go`,
          log,
        );
        return {};
      }
      const { reason, message } = classifyError(e);
      log.warn("sync failed", { reason, error: message, hostId: current.status.hostId });
      if (e instanceof AdoptionRefusedError) {
        this.#d.events.event(regarding(current), "Warning", "AdoptionRefused", message);
      } else {
        this.#d.events.event(regarding(current), "Warning", "SyncFailed", message);
      }
      await this.#writeStatusIfChanged(
        current,
        errorStatus(current.status, reason, message, current.generation, this.#now()),
      ).catch((se) => log.warn("could not write status", { error: se }));
      // A spec the server rejects, or an entry that is not ours, will not
      // fix itself by retrying: wait for a change (or the periodic resync).
      if (reason === "InvalidSpec" || reason === "AdoptionRefused") {
        throw new TerminalError(message);
      }
      throw e;
    }
  }

  async #writeStatusIfChanged(view: HostMappingView, next: HostMappingStatus): Promise<void> {
    if (statusEquivalent(view.status, next)) return;
    if (this.#d.log.enabled("debug")) {
      const changed = Object.keys({ ...view.status, ...next }).filter((k) =>
        !deepEqual(
          (view.status as Record<string, unknown>)[k],
          (next as Record<string, unknown>)[k],
        )
      );
      this.#d.log.debug("writing status", {
        key: `${view.namespace}/${view.name}`,
        changed,
        resourceVersion: view.resourceVersion,
      });
    }
    await this.#d.writer.writeStatus(view, next);
  }

  async #cleanup(view: HostMappingView, log: Logger): Promise<void> {
    if (!view.finalizers.includes(HOSTMAPPING_FINALIZER)) return;
    const owner = hostMappingComment(view.namespace, view.name);
    const owns = (e: HostEntry) => e.comment === owner && ownerAllows(this.#policy, e);
    this.#conflict(`${view.namespace}/${view.name}`, undefined);
    if (!deletesOnDelete(this.#policy, view.retain === true)) {
      await retainEntry(this.#d.hosts, view, owns, log);
      log.info("HostMapping deleted; its host entry is kept (retain or upsert-only)", {
        hostId: view.status.hostId,
      });
      this.#d.managed?.(`${view.namespace}/${view.name}`, false);
      await this.#d.writer.removeFinalizer(view, HOSTMAPPING_FINALIZER);
      return;
    }
    try {
      if (view.status.hostId) {
        // By the id in status, as the Go operator does; with an owner id only our entry.
        await deleteHost(
          this.#d.hosts,
          view.status.hostId,
          this.#policy.ownerId ? owns : undefined,
        );
      } else if (view.spec.ip && view.spec.hostname) {
        await deleteUntracked(
          this.#d.hosts,
          view.spec.ip,
          view.spec.hostname,
          owns,
        );
      }
      if (view.spec.hostname) this.#board.release(view.spec.hostname);
    } catch (e) {
      const { reason, message } = classifyError(e, "cleanup");
      const text = `cleanup of the host entry failed, finalizer kept: ${message}`;
      log.warn("cleanup failed", { reason, error: message, hostId: view.status.hostId });
      this.#d.events.event(regarding(view), "Warning", "SyncFailed", text);
      await this.#writeStatusIfChanged(
        view,
        errorStatus(view.status, reason, text, view.generation, this.#now()),
      ).catch((se) => log.warn("could not write status", { error: se }));
      throw e;
    }
    log.info("host entry deleted", { hostId: view.status.hostId });
    this.#d.managed?.(`${view.namespace}/${view.name}`, false);
    await this.#d.writer.removeFinalizer(view, HOSTMAPPING_FINALIZER);
  }
}

/**
 * Deletion under upsert-only or `on-delete: retain`: the entry stays,
 * tagged `retained` (best effort, so the orphan sweep leaves it), and the
 * finalizer goes at once.
 */
async function retainEntry(
  hosts: HostsPort,
  view: HostMappingView,
  owns: (e: HostEntry) => boolean,
  log: Logger,
): Promise<void> {
  if (!view.status.hostId) return;
  try {
    const entry = await hosts.getHost(view.status.hostId);
    if (!owns(entry) || entry.tags.includes(RETAINED_TAG)) return;
    await hosts.updateHost({
      id: entry.id,
      expectedVersion: entry.version,
      tags: [...entry.tags, RETAINED_TAG],
    });
  } catch (e) {
    log.warn("could not tag the retained entry; the orphan sweep may delete it", {
      hostId: view.status.hostId,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Everything the HostMapping controller is built from. */
export interface HostMappingUnitOptions {
  kube: KubeClient;
  hosts: HostsPort;
  events: EventRecorder;
  log: Logger;
  metrics: Metrics;
  workers: number;
  resyncPeriodMs: number;
  /** Domain filter, policy and owner id; the defaults when omitted. */
  policy?: Policy;
  /** Shared by every controller so a conflict's loser wakes when any of them releases the name. */
  conflicts?: ConflictBoard;
  /** The cache, for the orphan sweep. */
  onCache?: (cache: { ready(): boolean; has(key: string): boolean }) => void;
  /** Logs each Kubernetes write instead of making it (--dry-run). */
  dryRun?: boolean;
  /** Live repair: how an entry change finds and wakes the HostMapping tracking it. */
  entries?: EntryWakeups;
  /** `--namespace`: watch only these; all when omitted or empty. */
  namespaces?: readonly string[];
}

/** The controller name: the `controller` label of metrics and logs. */
export const HOSTMAPPING_CONTROLLER = "hostmapping";

/** Builds the HostMapping informer and controller, wired together. */
export function createHostMappingUnit(o: HostMappingUnitOptions): Unit {
  const log = o.log.with({ controller: HOSTMAPPING_CONTROLLER });
  const managed = new Set<string>();
  const gauge = () =>
    o.metrics.managedHosts.set({ controller: HOSTMAPPING_CONTROLLER }, managed.size);
  gauge();
  const conflicts = new Set<string>();
  const conflictGauge = () =>
    o.metrics.hostnameConflicts.set({ controller: HOSTMAPPING_CONTROLLER }, conflicts.size);
  conflictGauge();
  let reconciler: HostMappingReconciler | undefined;
  const built = ControllerBuilder.for<HostMappingView>({
    name: HOSTMAPPING_CONTROLLER,
    kube: o.kube,
    log: o.log,
    metrics: o.metrics,
    workers: o.workers,
    resyncPeriodMs: o.resyncPeriodMs,
    dryRun: o.dryRun,
    scope: { namespaces: o.namespaces },
  }, {
    resource: HOSTMAPPING,
    project: projectHostMapping,
    needsReconcile,
    onChange: (key, obj) => {
      if (obj) return;
      if (managed.delete(key)) gauge();
      reconciler?.forget(key);
    },
  }).complete(({ store, writer }) => {
    const rec = new HostMappingReconciler({
      hosts: o.hosts,
      writer,
      get: (key) => store.get(key),
      events: o.events,
      log,
      managed: (key, on) => {
        const had = managed.has(key);
        if (on) managed.add(key);
        else managed.delete(key);
        if (had !== on) gauge();
      },
      policy: o.policy,
      conflicts: o.conflicts,
      wake: (key) => built.controller.queue.add(key),
      conflicting: (key, on) => {
        const had = conflicts.has(key);
        if (on) conflicts.add(key);
        else conflicts.delete(key);
        if (had !== on) conflictGauge();
      },
    });
    reconciler = rec;
    return (key) => rec.reconcile(key);
  });
  o.entries?.register(HOSTMAPPING_CONTROLLER, {
    wake: (key) => built.controller.queue.add(key),
    tracking: (ids) =>
      trackersIn(built.store, ids, (v) => v.status.hostId ? [v.status.hostId] : []),
  });
  const informer = built.unit.informers[0];
  o.onCache?.({
    ready: () => informer.hasSynced() && !informer.missing,
    has: (key) => built.store.get(key) !== undefined,
  });
  return built.unit;
}
