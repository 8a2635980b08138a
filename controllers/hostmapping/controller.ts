/**
 * The HostMapping controller: one `router-hosts.fzymgc.house/v1alpha1`
 * HostMapping becomes one router-hosts entry with comment
 * `k8s:<namespace>/<name>`.
 *
 * The pure parts are in their own modules — the resource, projection and
 * desired entry in hostmapping/view.ts, the status and its reasons in
 * hostmapping/status.ts; {@link HostMappingReconciler} turns them into calls
 * on the pieces every controller shares: k8s/finalizer.ts for the finalizer,
 * hosts/retain.ts for retain-on-delete, hosts/policy.ts, and
 * engine/sync_error.ts for which failures are terminal. Each reconcile
 * returns a {@link SyncReport}; the wiring ({@link createHostMappingUnit}) books
 * it, as every source's wiring does.
 *
 * Policy (hosts/policy.ts) applies as in the source engine, and a refusal shows
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
import type { ObjectWriter } from "../../k8s/object_writer.ts";
import { ControllerBuilder } from "../../k8s/builder.ts";
import type { Unit } from "../../k8s/manager.ts";
import { AdoptionRefusedError, deleteHost, deleteUntracked, ensureHost } from "../hosts/sync.ts";
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
} from "../hosts/policy.ts";
import { retainEntries } from "../hosts/retain.ts";
import { failureError } from "../engine/sync_error.ts";
import { asError, SyncBook, type SyncReport } from "../engine/sync_report.ts";
import { finalizeReporting } from "../../k8s/finalizer.ts";
import type { ControllerUnitOptions, SourceCache } from "../engine/wiring.ts";
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
  events: EventRecorder;
  log: Logger;
  now?: () => Date;
  /** Domain filter, policy and owner id; the defaults when omitted. */
  policy?: Policy;
}

/** One reconcile's input: the cached object and its writer. */
export interface HostMappingInput {
  key: string;
  view: HostMappingView;
  /** Writes finalizer and status and feeds the result back into the cache. */
  writer: ObjectWriter<HostMappingView>;
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

  constructor(deps: HostMappingDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#policy = deps.policy ?? DEFAULT_POLICY;
  }

  /** Our entry: our comment, and the owner rule. */
  #owns(view: HostMappingView): (e: HostEntry) => boolean {
    const comment = hostMappingComment(view.namespace, view.name);
    return (e) => e.comment === comment && ownerAllows(this.#policy, e);
  }

  /**
   * A policy refusal: status Synced=False with `reason`, and a Warning
   * Event when that status is new (so once per object and change). No retry.
   */
  async #refuse(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    reason: string,
    message: string,
    log: Logger,
  ): Promise<void> {
    const next = errorStatus(view.status, reason, message, view.generation, this.#now());
    if (statusEquivalent(view.status, next)) return;
    log.warn(message, { reason });
    this.#d.events.event(regarding(view), "Warning", reason, message);
    await this.#writeStatusIfChanged(writer, view, next);
  }

  /**
   * Level-triggered: makes the server match the cached object, and reports
   * what happened (never throws: a failure is the report's error).
   */
  reconcile(input: HostMappingInput): Promise<SyncReport> {
    const log = this.#d.log.with({ key: input.key });
    return finalizeReporting(input.writer, HOSTMAPPING_FINALIZER, input.view, {
      apply: (view, ensureFinalizer) => this.#apply(input.writer, view, ensureFinalizer, log),
      cleanup: (view) => this.#cleanup(input.writer, view, log),
    });
  }

  async #apply(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    ensureFinalizer: () => Promise<HostMappingView>,
    log: Logger,
  ): Promise<SyncReport> {
    const filtered = domainRefusal(this.#policy, view.spec.hostname);
    if (filtered !== undefined) {
      const message =
        `${view.spec.hostname} is ${filtered}: it is neither written to nor deleted from router-hosts`;
      return await this.#refused(writer, view, "DomainFiltered", message, [], log);
    }

    // The CRD refuses these too, but Helm never upgrades a CRD: objects it let in stay refused here.
    const invalid = [view.spec.hostname, ...view.spec.aliases]
      .map((name) => hostnameProblem(name)).find((p) => p !== null);
    if (invalid) {
      const message = `${invalid}; nothing is written`;
      return await this.#refused(writer, view, "InvalidSpec", message, [], log);
    }

    // Upsert-only never deletes, so it needs no finalizer.
    const current = mayDelete(this.#policy) ? await ensureFinalizer() : view;
    try {
      const result = await ensureHost(
        this.#d.hosts,
        desiredHost(current, this.#policy),
        current.status.hostId,
        this.#owns(current),
      );
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
      try {
        await this.#writeStatusIfChanged(writer, current, next);
      } catch (e) {
        return { conflicts: [], ...await this.#failed(writer, current, e, log) };
      }
      return { managed: 1, conflicts: [] };
    } catch (e) {
      if (isHostnameConflict(e)) {
        const { hostname } = current.spec;
        const message = `${hostname} is already held (by ${describeHolder(e.entry)}); ` +
          `it keeps the name, and this HostMapping takes over when it lets it go`;
        return await this.#refused(writer, current, "HostnameConflict", message, [hostname], log);
      }
      return await this.#failed(writer, current, e, log);
    }
  }

  /** A refusal, reported with the hostnames the key waits for. */
  async #refused(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    reason: string,
    message: string,
    conflicts: string[],
    log: Logger,
  ): Promise<SyncReport> {
    try {
      await this.#refuse(writer, view, reason, message, log);
      return { conflicts };
    } catch (e) {
      return { conflicts, error: asError(e) };
    }
  }

  /** A failed sync: Event, status Synced=False, and the error (terminal or retried). */
  async #failed(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    e: unknown,
    log: Logger,
  ): Promise<SyncReport> {
    const { reason, message } = classifyError(e);
    log.warn("sync failed", { reason, error: message, hostId: view.status.hostId });
    const event = e instanceof AdoptionRefusedError ? "AdoptionRefused" : "SyncFailed";
    this.#d.events.event(regarding(view), "Warning", event, message);
    await this.#writeStatusIfChanged(
      writer,
      view,
      errorStatus(view.status, reason, message, view.generation, this.#now()),
    ).catch((se) => log.warn("could not write status", { error: se }));
    return { error: failureError([e], message, asError(e)) };
  }

  async #writeStatusIfChanged(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    next: HostMappingStatus,
  ): Promise<void> {
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
    await writer.writeStatus(view, next);
  }

  async #cleanup(
    writer: ObjectWriter<HostMappingView>,
    view: HostMappingView,
    log: Logger,
  ): Promise<SyncReport> {
    const owns = this.#owns(view);
    const { hostId } = view.status;
    if (!deletesOnDelete(this.#policy, view.retain === true)) {
      const tracked = hostId ? [{ hostname: view.spec.hostname, id: hostId }] : [];
      await retainEntries(this.#d.hosts, tracked, owns, log, 1);
      log.info("HostMapping deleted; its host entry is kept (retain or upsert-only)", { hostId });
      return { managed: 0, conflicts: [] };
    }
    try {
      if (hostId) {
        // By the id in status, as the Go operator does; with an owner id only our entry.
        await deleteHost(this.#d.hosts, hostId, this.#policy.ownerId ? owns : undefined);
      } else if (view.spec.ip && view.spec.hostname) {
        await deleteUntracked(this.#d.hosts, view.spec.ip, view.spec.hostname, owns);
      }
    } catch (e) {
      const { reason, message } = classifyError(e, "cleanup");
      const text = `cleanup of the host entry failed, finalizer kept: ${message}`;
      log.warn("cleanup failed", { reason, error: message, hostId });
      this.#d.events.event(regarding(view), "Warning", "SyncFailed", text);
      await this.#writeStatusIfChanged(
        writer,
        view,
        errorStatus(view.status, reason, text, view.generation, this.#now()),
      ).catch((se) => log.warn("could not write status", { error: se }));
      return { conflicts: [], error: asError(e) };
    }
    log.info("host entry deleted", { hostId });
    const released = view.spec.hostname ? [view.spec.hostname] : [];
    return { managed: 0, conflicts: [], released };
  }
}

/** Everything the HostMapping controller is built from. */
export interface HostMappingUnitOptions extends ControllerUnitOptions {
  /** The cache, for the orphan sweep. */
  onCache?: (cache: SourceCache) => void;
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
  const reconciler = new HostMappingReconciler({
    hosts: o.hosts,
    events: o.events,
    log,
    policy: o.policy,
  });
  const book = new SyncBook({
    controller: HOSTMAPPING_CONTROLLER,
    managed: o.metrics.managedHosts,
    conflicts: o.metrics.hostnameConflicts,
    board: o.conflicts ?? new ConflictBoard(),
    wake: (key) => built.controller.queue.add(key),
  });
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
      if (!obj) book.forget(key);
    },
  }).complete(({ store, writer }) => async (key) => {
    const view = store.get(key);
    if (!view) return {};
    return book.settle(key, await reconciler.reconcile({ key, view, writer }));
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
