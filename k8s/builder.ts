/**
 * Builds a controller from what it reconciles and what else wakes it —
 * controller-runtime's `For(...).Watches(...).Complete(r)`:
 *
 *   ControllerBuilder.for(options, { resource, project, needsReconcile })
 *     .watches(GATEWAYS, (gatewayKey) => routesReferencing(gatewayKey))
 *     .complete(({ store, writer }) => reconcile)
 *
 * The builder owns the wiring every controller used to repeat: the informer
 * of the reconciled kind, the writer that feeds our own writes back into its
 * cache, the controller with its queue, and the forward reference between
 * an informer's events and the queue that exists only afterwards. It knows
 * nothing about what is reconciled.
 *
 * Watched kinds other than the reconciled one come from an
 * {@link InformerRegistry}, so several controllers that watch the same kind
 * (three Gateway route kinds watching Gateways) share one informer and one
 * cache.
 *
 * A {@link WatchScope} narrows the reconciled kind to some namespaces and a
 * label selector (the registry's kinds to the namespaces only: they are
 * dependencies, read whatever their labels). An object whose labels stop
 * matching leaves the cache while it still exists, maybe carrying our
 * finalizer: it is kept in {@link Built.departed} and its key queued, so
 * the reconciler can undo what it did for it.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import type { ControllerMetrics } from "./controller_metrics.ts";
import { Controller, type Reconciler } from "./controller.ts";
import type { InformerLike, Unit } from "./manager.ts";
import { ObjectWriter, type RequestApi, type ViewMeta } from "./object_writer.ts";
import type { KubeObject, ResourceType } from "./resource.ts";
import { ScopedInformer, type WatchScope } from "./scope.ts";
import { Store } from "./store.ts";
import type { ListWatchClient } from "./watcher.ts";

/** A kind watched into a cache: what it is and what of it is kept. */
export interface WatchedKind<T> {
  resource: ResourceType;
  /** Keeps only what the controllers read; a change of anything else wakes nobody. */
  project: (obj: KubeObject) => T;
  /** Watch this one namespace, whatever the registry's scope; its namespaces when omitted. */
  namespace?: string;
  /** Watch only the objects this field selector matches, e.g. `metadata.name=traefik`. */
  fieldSelector?: string;
}

/** Called after a cached object changed; `obj` undefined means deleted. */
export type ChangeListener<T> = (key: string, obj: T | undefined, previous: T | undefined) => void;

/** One informer whose changes go to every subscriber. */
export class SharedInformer<T> implements InformerLike {
  readonly #informer: ScopedInformer<T>;
  readonly #listeners: ChangeListener<T>[] = [];
  readonly #missingListeners: ((missing: boolean) => void)[] = [];

  constructor(
    client: ListWatchClient,
    kind: WatchedKind<T>,
    log: Logger,
    namespaces?: readonly string[],
  ) {
    this.#informer = new ScopedInformer<T>({
      client,
      resource: kind.resource,
      project: kind.project,
      namespaces: kind.namespace ? [kind.namespace] : namespaces,
      fieldSelector: kind.fieldSelector,
      log,
      onChange: (key, obj, previous) => {
        for (const l of this.#listeners) l(key, obj, previous);
      },
      onMissing: (missing) => {
        for (const l of this.#missingListeners) l(missing);
      },
    });
  }

  /** The cache; read it, never write it. */
  get store(): Store<T> {
    return this.#informer.store;
  }

  /** True while the resource is not served (CRD not installed). */
  get missing(): boolean {
    return this.#informer.missing;
  }

  /** Adds a listener of changes; subscribe before the informer runs. */
  subscribe(listener: ChangeListener<T>): void {
    this.#listeners.push(listener);
  }

  /** Adds a listener of the resource appearing or disappearing. */
  onMissing(listener: (missing: boolean) => void): void {
    this.#missingListeners.push(listener);
  }

  /** See {@link Informer.run}. */
  run(signal: AbortSignal): Promise<void> {
    return this.#informer.run(signal);
  }

  /** See {@link Informer.hasSynced}. */
  hasSynced(): boolean {
    return this.#informer.hasSynced();
  }

  /** See {@link Informer.waitForSync}. */
  waitForSync(signal: AbortSignal): Promise<boolean> {
    return this.#informer.waitForSync(signal);
  }
}

/**
 * One shared informer per watched kind (by identity of its {@link WatchedKind}),
 * watching `namespaces` (all when omitted) unless the kind names its own.
 */
export class InformerRegistry {
  readonly #client: ListWatchClient;
  readonly #log: Logger;
  readonly #namespaces?: readonly string[];
  readonly #informers = new Map<WatchedKind<unknown>, SharedInformer<unknown>>();

  constructor(client: ListWatchClient, log: Logger, namespaces?: readonly string[]) {
    this.#client = client;
    this.#log = log;
    this.#namespaces = namespaces;
  }

  /** The informer of `kind`, created on first use. */
  get<T>(kind: WatchedKind<T>): SharedInformer<T> {
    let informer = this.#informers.get(kind as WatchedKind<unknown>);
    if (!informer) {
      informer = new SharedInformer(
        this.#client,
        kind as WatchedKind<unknown>,
        this.#log,
        this.#namespaces,
      );
      this.#informers.set(kind as WatchedKind<unknown>, informer);
    }
    return informer as SharedInformer<T>;
  }
}

/** What every controller is built with. */
export interface BuilderOptions {
  /** The controller name: the `controller` label of metrics and logs. */
  name: string;
  kube: ListWatchClient & RequestApi;
  log: Logger;
  metrics: ControllerMetrics;
  workers: number;
  resyncPeriodMs?: number;
  /** Where watched kinds' informers come from; one of its own when omitted. */
  informers?: InformerRegistry;
  /** Log the writer's writes instead of making them (--dry-run). */
  dryRun?: boolean;
  /** Namespaces and label selector of the reconciled kind; everything when omitted. */
  scope?: WatchScope;
}

/** The reconciled kind. */
export interface ForKind<V> extends WatchedKind<V> {
  /** Whether a change wakes the controller; every change does when omitted. */
  needsReconcile?: (previous: V | undefined, next: V) => boolean;
  /** Sees every change of the kind, before the filter (indexes, gauges, forgetting). */
  onChange?: ChangeListener<V>;
  /** The resource stopped (true) or started (false) being served. */
  onMissing?: (missing: boolean) => void;
}

/** What {@link ControllerBuilder.complete} hands the reconciler factory. */
export interface Built<V extends ViewMeta> {
  /** The cache of the reconciled kind. */
  store: Store<V>;
  /** Finalizer, status and annotation writes that update `store` at once. */
  writer: ObjectWriter<V>;
  /** The informer registry (to read watched kinds' caches). */
  informers: InformerRegistry;
  /**
   * Objects that left the scope (their labels stopped matching the selector)
   * while not being deleted, as last seen; their keys are queued. The
   * reconciler removes a key once it has undone its work for it; the key
   * goes by itself when the object comes back into scope.
   */
  departed: Store<V>;
}

/** A built controller: the unit the manager runs, and its parts. */
export interface BuiltController<V extends ViewMeta> extends Built<V> {
  unit: Unit;
  controller: Controller;
}

/** Builds one controller; see the module documentation. */
export class ControllerBuilder<V extends ViewMeta> {
  readonly #o: BuilderOptions;
  readonly #for: ForKind<V>;
  readonly #informers: InformerRegistry;
  readonly #watches: {
    informer: SharedInformer<unknown>;
    map: (key: string, obj: unknown, previous: unknown) => Iterable<string>;
  }[] = [];

  private constructor(options: BuilderOptions, kind: ForKind<V>) {
    this.#o = options;
    this.#for = kind;
    this.#informers = options.informers ??
      new InformerRegistry(options.kube, options.log, options.scope?.namespaces);
  }

  /** Starts a controller that reconciles `kind`. */
  static for<V extends ViewMeta>(options: BuilderOptions, kind: ForKind<V>): ControllerBuilder<V> {
    return new ControllerBuilder(options, kind);
  }

  /**
   * Also watch `kind`: every change of one of its objects enqueues the keys
   * `map` returns (the reconciled objects that depend on it).
   */
  watches<W>(
    kind: WatchedKind<W>,
    map: (key: string, obj: W | undefined, previous: W | undefined) => Iterable<string>,
  ): this {
    this.#watches.push({
      informer: this.#informers.get(kind) as SharedInformer<unknown>,
      map: map as (key: string, obj: unknown, previous: unknown) => Iterable<string>,
    });
    return this;
  }

  /** Wires everything to the reconciler `make` returns. */
  complete(make: (built: Built<V>) => Reconciler): BuiltController<V> {
    const kind = this.#for;
    const log = this.#o.log.with({ controller: this.#o.name });
    // The informer's events need the controller's queue, which needs the
    // reconciler, which needs the informer's store: `controller` is declared
    // below, and informers only call back once they run.
    const scope = this.#o.scope;
    const departed = new Store<V>();
    const informer = new ScopedInformer<V>({
      client: this.#o.kube,
      resource: kind.resource,
      project: kind.project,
      namespaces: scope?.namespaces,
      labelSelector: scope?.labelSelector || undefined,
      log,
      onChange: (key, obj, previous, last) => {
        kind.onChange?.(key, obj, previous);
        if (obj) {
          departed.apply(key, undefined);
          if (kind.needsReconcile?.(previous, obj) ?? true) controller.queue.add(key);
          return;
        }
        // Without a selector an object leaves the cache only when deleted.
        // With one, it still exists when it was not being deleted, or when
        // it still carries finalizers (an object goes only once they are gone).
        const seen = last ?? previous;
        if (
          scope?.labelSelector && seen && (!seen.deletionTimestamp || seen.finalizers.length > 0)
        ) {
          departed.apply(key, seen);
          controller.queue.add(key);
        }
      },
      onMissing: kind.onMissing,
    });
    for (const w of this.#watches) {
      w.informer.subscribe((key, obj, previous) => {
        for (const k of w.map(key, obj, previous)) controller.queue.add(k);
      });
    }
    const built: Built<V> = {
      store: informer.store,
      writer: new ObjectWriter({
        api: this.#o.kube,
        resource: kind.resource,
        project: kind.project,
        store: informer.store,
        dryRun: this.#o.dryRun ? log : undefined,
      }),
      informers: this.#informers,
      departed,
    };
    const controller: Controller = new Controller({
      name: this.#o.name,
      reconcile: make(built),
      workers: this.#o.workers,
      log: this.#o.log,
      metrics: this.#o.metrics,
      resyncPeriodMs: this.#o.resyncPeriodMs,
      keys: () => informer.store.keys(),
    });
    const informers: InformerLike[] = [informer, ...this.#watches.map((w) => w.informer)];
    return { ...built, controller, unit: { informers, controller } };
  }
}
