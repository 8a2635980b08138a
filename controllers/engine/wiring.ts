/**
 * Builds the controllers of a list of sources (source.ts) on the controller
 * builder: one informer, queue and controller per kind, the indexes that
 * turn a change of a watched object into the keys of the objects that
 * depend on it, the comment-group claims, and the bookkeeping of what each
 * reconcile reports (engine/sync_report.ts).
 *
 * @module
 */
import type { HostsPort } from "../../grpc/hosts_port.ts";
import { ControllerBuilder, InformerRegistry, type WatchedKind } from "../../k8s/builder.ts";
import type { EventRecorder } from "../../k8s/events.ts";
import { KeyIndex } from "../../k8s/key_index.ts";
import type { Unit } from "../../k8s/manager.ts";
import type { RequestApi } from "../../k8s/object_writer.ts";
import type { WatchScope } from "../../k8s/scope.ts";
import type { ListWatchClient } from "../../k8s/watcher.ts";
import type { Logger } from "../../observability/log.ts";
import type { Metrics } from "../../observability/metrics.ts";
import {
  type AnySource,
  type Claims,
  claimsOf,
  needsReconcile,
  type Source,
  type SourceContext,
  type SourceView,
} from "./source.ts";
import { SourceReconciler } from "./reconcile.ts";
import { ClusterIngressIP, type DnsResolver, systemDnsResolver } from "./ip_source.ts";
import { SyncBook } from "./sync_report.ts";
import { ConflictBoard, type Policy } from "../hosts/policy.ts";
import { type EntryWakeups, trackersIn } from "../hosts/live.ts";
import { parseHostIds } from "./host_ids.ts";

/** What every host controller (each source, HostMapping) is built from. */
export interface ControllerUnitOptions {
  kube: ListWatchClient & RequestApi;
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
  /** Logs each Kubernetes write instead of making it (--dry-run). */
  dryRun?: boolean;
}

/** Everything the source controllers are built from. */
export interface SourceUnitOptions extends ControllerUnitOptions {
  /** `--default-ingress-ip`; "" when not set. */
  defaultIngressIP: string;
  /** `--ingress-service`: the Service whose address is the cluster's ingress IP. */
  ingressService?: { namespace: string; name: string };
  /** DNS for addresses reported as names (default: the system's). */
  dns?: DnsResolver;
  /** Shared informers of watched kinds; one of its own when omitted. */
  informers?: InformerRegistry;
  /** Each source's cache, for the orphan sweep. */
  onCache?: (source: AnySource, cache: SourceCache) => void;
  /** Live repair: how an entry change finds and wakes the objects tracking it. */
  entries?: EntryWakeups;
  /** `--namespace` and `--label-selector`; dependencies get the namespaces only. */
  scope?: WatchScope;
}

/** A source kind's cache, as the orphan sweep reads it. */
export interface SourceCache {
  /** True once the kind is served and its cache is complete. */
  ready(): boolean;
  has(key: string): boolean;
}

/**
 * Builds one unit (informer, queue, controller) per source. A kind whose
 * CRD is not installed reports `missing` (readiness does not wait for it)
 * and keeps retrying; its controller starts once the CRD appears and the
 * cache has synced.
 */
export function createSourceUnits(sources: readonly AnySource[], o: SourceUnitOptions): Unit[] {
  const informers = o.informers ?? new InformerRegistry(o.kube, o.log, o.scope?.namespaces);
  const dns = o.dns ?? systemDnsResolver;
  const clusterIP = new ClusterIngressIP({
    service: o.ingressService,
    defaultIngressIP: o.defaultIngressIP,
    dns,
  });
  const context: SourceContext = {
    defaultIngressIP: o.defaultIngressIP,
    cached: (kind, key) => informers.get(kind).store.get(key),
    clusterIngressIP: () => clusterIP.resolve((kind, key) => informers.get(kind).store.get(key)),
    dns,
  };
  const dependencies = new Set(sources.flatMap((s) => (s.dependsOn ?? []).map((d) => d.kind)));
  for (const kind of dependencies) {
    const crd = `${kind.resource.plural}.${kind.resource.group}`;
    const waiting = sources.filter((s) => s.dependsOn?.some((d) => d.kind === kind))
      .map((s) => s.controller);
    // The controllers that read this kind start once its cache has synced.
    informers.get(kind).onMissing((missing) =>
      missing
        ? o.log.warn(
          `CRD ${crd} is not installed: the ${waiting.join(", ")} controllers wait for it`,
          { crd },
        )
        : o.log.info(`CRD ${crd} is installed`, { crd })
    );
  }
  const views = new Map<AnySource, (key: string) => SourceView | undefined>();
  return sources.map((source) => {
    const peers = sources.filter((p) =>
      p !== source && source.commentGroup !== undefined && p.commentGroup === source.commentGroup
    );
    const unit = createSourceUnit(
      source,
      o,
      informers,
      context,
      clusterIP,
      peers.length === 0 ? undefined : {
        claims: (key) => mergeClaims(peers.map((p) => claimsOf(p, views.get(p)?.(key), context))),
        names: peers.map((p) => p.resource.kind).join(" and "),
      },
    );
    views.set(source, unit.get);
    return unit.unit;
  });
}

/** The entry ids an object's host-ids annotation names (none when it is absent or corrupt). */
function trackedIds(view: SourceView): string[] {
  if (view.hostIds === undefined) return [];
  const parsed = parseHostIds(view.hostIds);
  return "tracked" in parsed ? parsed.tracked.map((t) => t.id) : [];
}

function mergeClaims(all: Claims[]): Claims {
  if (all.length === 1) return all[0];
  return {
    ids: new Set(all.flatMap((c) => [...c.ids])),
    hostnames: new Set(all.flatMap((c) => [...c.hostnames])),
  };
}

function createSourceUnit<V extends SourceView>(
  source: Source<V>,
  o: SourceUnitOptions,
  informers: InformerRegistry,
  context: SourceContext,
  clusterIP: ClusterIngressIP,
  peers: { claims: (key: string) => Claims; names: string } | undefined,
): { unit: Unit; get: (key: string) => V | undefined } {
  const log = o.log.with({ controller: source.controller });
  const crd = `${source.resource.plural}.${source.resource.group}`;
  const reconciler = new SourceReconciler<V>({
    source,
    hosts: o.hosts,
    events: o.events,
    log,
    context,
    peers: peers?.names,
    policy: o.policy,
  });
  const book = new SyncBook({
    controller: source.controller,
    managed: o.metrics.managedHosts,
    conflicts: o.metrics.hostnameConflicts,
    board: o.conflicts ?? new ConflictBoard(),
    wake: (key) => built.controller.queue.add(key),
  });
  const dependencies = [...source.dependsOn ?? []];
  if (source.followsClusterIP && clusterIP.kind && clusterIP.key) {
    const key = clusterIP.key;
    dependencies.push({
      kind: clusterIP.kind as WatchedKind<unknown>,
      refs: (view) => source.followsClusterIP?.(view) ? [key] : [],
    });
  }
  const indexes = dependencies.map((dependency) => ({ dependency, index: new KeyIndex() }));
  let builder = ControllerBuilder.for<V>({
    name: source.controller,
    kube: o.kube,
    log: o.log,
    metrics: o.metrics,
    workers: o.workers,
    resyncPeriodMs: o.resyncPeriodMs,
    informers,
    dryRun: o.dryRun,
    scope: o.scope,
  }, {
    resource: source.resource,
    project: source.project,
    needsReconcile: (prev, next) => needsReconcile(source.finalizer, prev, next),
    onChange: (key, obj, previous) => {
      for (const { dependency, index } of indexes) {
        index.set(key, obj ? dependency.refs(obj) : []);
      }
      if (obj) return;
      book.forget(key);
      reconciler.forget(key, previous?.uid);
    },
    onMissing: (missing) => {
      if (missing) {
        log.warn(
          `${source.crdProvider} CRD ${crd} is not installed: the ${source.controller} controller waits for it ` +
            "(checking again with backoff up to 30 s) and starts when it appears; the rest of the operator runs",
          { crd },
        );
      } else {
        log.info(
          `${source.crdProvider} CRD ${crd} is installed: the ${source.controller} controller starts`,
          { crd },
        );
      }
    },
  });
  for (const { dependency, index } of indexes) {
    builder = builder.watches(dependency.kind, (key) => index.sourcesOf(key));
  }
  const built = builder.complete(({ store, writer, departed }) => async (key, signal) => {
    const view = store.get(key);
    const claims = peers?.claims(key);
    if (view) {
      return book.settle(key, await reconciler.reconcile({ key, view, writer, claims }, signal));
    }
    // An object that left the watch scope (k8s/builder.ts) is released once, as last seen.
    const gone = departed.get(key);
    if (!gone) return {};
    const report = await reconciler.releaseDeparted({ key, view: gone, writer, claims }, signal);
    if (!report.error) departed.apply(key, undefined);
    return book.settle(key, report);
  });
  o.entries?.register(source.controller, {
    wake: (key) => built.controller.queue.add(key),
    tracking: (ids) => trackersIn(built.store, ids, trackedIds),
  });
  const informer = built.unit.informers[0];
  o.onCache?.(source, {
    ready: () => informer.hasSynced() && !informer.missing,
    has: (key) => built.store.get(key) !== undefined,
  });
  return { unit: built.unit, get: (key) => built.store.get(key) };
}
