/**
 * The informer: client-go's reflector loop feeding a {@link Store}.
 *
 *   LIST (paginated) → replace the store → WATCH from the list's
 *   resourceVersion → apply events → on a clean close, WATCH again from
 *   the last resourceVersion seen (events and bookmarks advance it).
 *
 * Failures:
 * - 410 Gone / ERROR event with code 410 (our resourceVersion was
 *   compacted away) → LIST again at once; the store replacement reports
 *   objects deleted while we were not watching.
 * - 404 on LIST (the CRD is not installed) → `missing`; retried with
 *   backoff, logged now and then, `onMissing` tells the caller.
 * - 429 → wait as long as Retry-After says.
 * - the client's inactivity watchdog ended an established watch → WATCH
 *   again at once (see {@link WatchInactiveError}).
 * - anything else (connection refused, 401/403, 5xx, a request deadline)
 *   → wait 0.8 s doubling to 30 s with jitter (reset after 2 minutes
 *   without failure), then WATCH again from the last resourceVersion — no
 *   relist, as client-go does after connection errors.
 *
 * `onChange` fires only when a key's projection really changed, so a
 * status write that the projection ignores does not wake the controller.
 * Periodic resync is the controller's job, not the informer's.
 *
 * resourceVersion is opaque: it is stored and sent back, never compared.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import {
  type CallOptions,
  isGone,
  isNotFound,
  KubeApiError,
  type Query,
  type Status,
  type WatchEvent,
  WatchInactiveError,
} from "./client.ts";
import { type Clock, realClock, sleep } from "./clock.ts";
import {
  collectionPath,
  type KubeList,
  type KubeObject,
  objectKey,
  type ResourceType,
} from "./resource.ts";
import { Store } from "./store.ts";

/** The two calls an informer makes; KubeClient implements them, tests fake them. */
export interface ListWatchClient {
  list<T>(path: string, query?: Query, opts?: CallOptions): Promise<T>;
  watch(path: string, query: Query, signal: AbortSignal): AsyncIterable<WatchEvent>;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T> {
  client: ListWatchClient;
  resource: ResourceType;
  /** Watch one namespace; all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Keeps only the fields the controller needs; must not return undefined.
   * An object it throws for is logged and skipped.
   */
  project: (obj: KubeObject) => T;
  log: Logger;
  /**
   * Called after the store changed; `obj` undefined means removed. `last` is
   * the projection of the object a DELETED event carried (absent when a
   * relist found the object gone): with a label selector, an object whose
   * labels stopped matching arrives as DELETED while it still exists.
   * Must not block.
   */
  onChange: (key: string, obj: T | undefined, previous: T | undefined, last?: T) => void;
  /** Called when the resource stops (true) or starts (false) being served. */
  onMissing?: (missing: boolean) => void;
  /**
   * The cache to fill; a fresh one when omitted. Informers of different
   * namespaces may share one: each replaces only its namespace's keys.
   */
  store?: Store<T>;
  /** Objects per LIST page (default 500). */
  pageSize?: number;
  /** WATCH `timeoutSeconds` is drawn from this range (default 300–600 s). */
  watchTimeoutRange?: [number, number];
  /** Backoff between failed attempts (default 0.8 s doubling to 30 s). */
  backoff?: BackoffOptions;
  /** While the resource is missing, repeat the log line at most this often (default 5 min). */
  missingLogIntervalMs?: number;
  clock?: Clock;
  random?: () => number;
}

/** A watch that ends this quickly without a single event counts as a failure. */
const SHORT_WATCH_MS = 1_000;
/** Consecutive 410s relisted without delay before backing off. */
const FREE_RELISTS = 3;

/** Lists and watches one resource into a {@link Store}; see the module documentation. */
export class Informer<T> {
  /** The cache; read it from reconcilers, never write it. */
  readonly store: Store<T>;
  readonly #o: InformerOptions<T>;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #backoff: Backoff;
  readonly #path: string;
  #resourceVersion?: string;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #missing = false;
  #missingLoggedAt?: number;
  #consecutiveGone = 0;
  #running = false;

  constructor(options: InformerOptions<T>) {
    this.#o = options;
    this.store = options.store ?? new Store<T>();
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    const rt = options.resource;
    const resource = rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
    this.#log = options.log.with({ resource });
    this.#backoff = new Backoff({ clock: this.#clock, random: this.#random, ...options.backoff });
    this.#path = collectionPath(rt, options.namespace);
  }

  /** True once a full LIST has been applied to the store. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** True while the API server answers 404 for the resource (CRD not installed). */
  get missing(): boolean {
    return this.#missing;
  }

  /** The last resourceVersion seen (opaque). */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /** Resolves true once synced, or false if `signal` aborts first. */
  waitForSync(signal: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      });
    });
  }

  /** Lists and watches until `signal` aborts; never rejects on API errors. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("informer is already running");
    this.#running = true;
    try {
      await this.#loop(signal);
    } finally {
      this.#running = false;
    }
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      let delayMs = 0;
      try {
        if (needList) await this.#list(signal);
        needList = false;
        if (!signal.aborted) await this.#watch(signal);
      } catch (e) {
        if (signal.aborted) break;
        const next = this.#afterFailure(e, needList ? "list" : "watch");
        needList ||= next.relist;
        delayMs = next.delayMs;
      }
      if (delayMs > 0) await sleep(this.#clock, delayMs, signal);
    }
  }

  /**
   * One full LIST, `pageSize` objects per request.
   *
   * Why resourceVersion is left unset (a consistent read) rather than "0"
   * as client-go's first list does: with "0" the API server answers from
   * its watch cache and ignores `limit`, returning every object in one
   * response — tens of megabytes parsed at once for 10,000 objects — and
   * may return data older than what we already saw (another API server's
   * cache after a failover). A paginated consistent read keeps peak memory
   * at one page and never goes back in time; its cost for one operator is
   * small, and since Kubernetes 1.31 it is served from the watch cache too.
   */
  async #list(signal: AbortSignal): Promise<void> {
    const { client, pageSize = 500 } = this.#o;
    const items = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page: KubeList = await client.list<KubeList>(this.#path, {
        limit: pageSize,
        continue: continueToken,
        labelSelector: this.#o.labelSelector,
        fieldSelector: this.#o.fieldSelector,
      }, { signal });
      for (const obj of page.items ?? []) {
        const key = objectKey(obj);
        const value = this.#project(key, obj);
        if (value !== undefined) items.set(key, value);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken && !signal.aborted);
    if (signal.aborted) return;
    this.#resourceVersion = resourceVersion;
    const ns = this.#o.resource.namespaced ? this.#o.namespace : undefined;
    const changes = this.store.replace(items, ns ? (key) => key.startsWith(`${ns}/`) : undefined);
    this.#setMissing(false);
    this.#consecutiveGone = 0;
    this.#log.info("listed", { objects: items.size, changes: changes.length, resourceVersion });
    this.#markSynced();
    for (const change of changes) this.#emit(change.key, change.value, change.previous);
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const [min, max] = this.#o.watchTimeoutRange ?? [300, 600];
    const query: Query = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(min + this.#random() * (max - min + 1)),
      labelSelector: this.#o.labelSelector,
      fieldSelector: this.#o.fieldSelector,
    };
    const started = this.#clock.now();
    let events = 0;
    for await (const event of this.#o.client.watch(this.#path, query, signal)) {
      events++;
      this.#apply(event);
    }
    if (!signal.aborted && events === 0 && this.#clock.now() - started < SHORT_WATCH_MS) {
      throw new Error("the watch closed at once without any event");
    }
  }

  #apply(event: WatchEvent): void {
    if (event.type === "ERROR") throw statusError(event.object as Status);
    const obj = event.object;
    if (event.type === "ADDED" || event.type === "MODIFIED") {
      const key = objectKey(obj);
      const value = this.#project(key, obj);
      const previous = this.store.get(key);
      if (value !== undefined && this.store.apply(key, value)) this.#emit(key, value, previous);
    } else if (event.type === "DELETED") {
      const key = objectKey(obj);
      const previous = this.store.get(key);
      if (this.store.apply(key, undefined)) {
        this.#emit(key, undefined, previous, this.#project(key, obj));
      }
    } else if (event.type !== "BOOKMARK") {
      this.#log.warn("unknown watch event type ignored", { type: event.type });
      return;
    }
    // Bookmarks carry only a resourceVersion: the point to resume from.
    this.#resourceVersion = obj.metadata?.resourceVersion ?? this.#resourceVersion;
  }

  /** Decides between relisting and waiting, and logs the failure. */
  #afterFailure(e: unknown, phase: "list" | "watch"): { relist: boolean; delayMs: number } {
    const error = e instanceof Error ? e.message : String(e);
    if (isGone(e)) {
      this.#consecutiveGone++;
      const delayMs = this.#consecutiveGone > FREE_RELISTS ? Math.round(this.#backoff.next()) : 0;
      this.#log.info("resourceVersion expired; listing again", { phase, error, delayMs });
      return { relist: true, delayMs };
    }
    if (e instanceof WatchInactiveError) {
      // Usually a frozen server or a dead connection, but a quiet resource
      // without bookmarks looks the same: watch again at once; if the server
      // is really gone, that request fails on its deadline and backs off.
      this.#log.info("watch silent for too long; watching again", { error });
      return { relist: false, delayMs: 0 };
    }
    if (isNotFound(e)) {
      const delayMs = Math.round(this.#backoff.next());
      if (phase === "list") this.#setMissing(true, delayMs);
      else this.#log.info("watch answered 404; listing again", { error, delayMs });
      return { relist: true, delayMs };
    }
    const retryAfterSeconds = e instanceof KubeApiError ? e.retryAfterSeconds : undefined;
    const delayMs = Math.round(
      retryAfterSeconds ? retryAfterSeconds * 1000 : this.#backoff.next(),
    );
    this.#log.warn(`${phase} failed; retrying`, {
      error,
      delayMs,
      resourceVersion: this.#resourceVersion,
    });
    return { relist: false, delayMs };
  }

  #setMissing(missing: boolean, delayMs?: number): void {
    const now = this.#clock.now();
    if (missing && !this.#missing) {
      this.#log.warn("resource not served by the API server (CRD not installed?); waiting for it", {
        delayMs,
      });
      this.#missingLoggedAt = now;
    } else if (missing) {
      const interval = this.#o.missingLogIntervalMs ?? 300_000;
      if (now - (this.#missingLoggedAt ?? 0) >= interval) {
        this.#log.info("resource still not served by the API server; waiting", { delayMs });
        this.#missingLoggedAt = now;
      }
    } else if (this.#missing) {
      this.#log.info("resource is served by the API server now");
    }
    if (missing === this.#missing) return;
    this.#missing = missing;
    this.#o.onMissing?.(missing);
  }

  #markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    for (const wake of this.#syncWaiters.splice(0)) wake();
  }

  /**
   * The projection of `obj`, or undefined when `project` throws: the object
   * is then logged and skipped (its previous projection, if any, stays).
   * Retrying would not help — the same object would fail again and wedge
   * the watch — and treating it as deleted could make a controller clean
   * up after an object that still exists.
   */
  #project(key: string, obj: KubeObject): T | undefined {
    try {
      return this.#o.project(obj);
    } catch (e) {
      this.#log.error("cannot project object; skipping it", {
        key,
        resourceVersion: obj.metadata?.resourceVersion,
        error: e instanceof Error ? e : String(e),
      });
      return undefined;
    }
  }

  #emit(key: string, value: T | undefined, previous: T | undefined, last?: T): void {
    try {
      this.#o.onChange(key, value, previous, last);
    } catch (e) {
      this.#log.error("onChange handler threw", { key, error: e instanceof Error ? e : String(e) });
    }
  }
}

function statusError(status: Status): KubeApiError {
  const code = typeof status?.code === "number" ? status.code : 500;
  return new KubeApiError(
    `watch ERROR event: ${code} ${status?.reason ?? ""}: ${status?.message ?? "no message"}`,
    { status: code, reason: status?.reason, details: status?.details },
  );
}
