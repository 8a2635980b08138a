/**
 * Writes to objects a controller reconciles — finalizers, status,
 * annotations — and puts the server's answer straight into the cache, so the
 * next reconcile of the key sees our own write even before its watch event
 * arrives (and that event then changes nothing). The answer goes in only
 * while the cache still holds the version the write started from; a newer
 * one from the watch is never replaced by it.
 *
 * In dry-run mode (`--dry-run`) no write is made: each is logged at info
 * with the object and the change, and the caller gets the object as the
 * write would have left it (the cache is not touched).
 *
 * @module
 */
import { isNotFound, type RequestOptions } from "./client.ts";
import { addFinalizerOps, removeFinalizerOps } from "./finalizer.ts";
import { type KubeObject, objectPath, type ResourceType } from "./resource.ts";
import type { Store } from "./store.ts";
import type { ObjectView } from "./view.ts";
import type { Logger } from "../observability/log.ts";

/** The request the writer makes (KubeClient implements it). */
export interface RequestApi {
  request<T>(opts: RequestOptions): Promise<T>;
}

/** What the writer reads of a cached view. */
export type ViewMeta = Pick<
  ObjectView,
  "namespace" | "name" | "resourceVersion" | "finalizers" | "deletionTimestamp"
>;

const MERGE_PATCH = "application/merge-patch+json";
const JSON_PATCH = "application/json-patch+json";

/** Finalizer, status and annotation writes for one resource type. */
export class ObjectWriter<V extends ViewMeta> {
  readonly #api: RequestApi;
  readonly #rt: ResourceType;
  readonly #project: (obj: KubeObject) => V;
  readonly #store: Store<V>;
  readonly #dryRun?: Logger;

  constructor(options: {
    api: RequestApi;
    resource: ResourceType;
    project: (obj: KubeObject) => V;
    store: Store<V>;
    /** Log each write here instead of making it. */
    dryRun?: Logger;
  }) {
    this.#api = options.api;
    this.#rt = options.resource;
    this.#project = options.project;
    this.#store = options.store;
    this.#dryRun = options.dryRun;
  }

  /** True (after logging the write) when writes are only logged. */
  #skipped(view: V, write: string, change: Record<string, unknown>): boolean {
    if (!this.#dryRun) return false;
    this.#dryRun.info(`dry-run: would ${write}`, {
      kind: this.#rt.kind,
      object: `${view.namespace}/${view.name}`,
      ...change,
    });
    return true;
  }

  async #patch(
    view: V,
    patch: unknown,
    options: { subresource?: string; contentType?: string } = {},
  ): Promise<V> {
    const obj = await this.#api.request<KubeObject>({
      method: "PATCH",
      path: objectPath(this.#rt, view.namespace, view.name, options.subresource),
      body: patch,
      contentType: options.contentType ?? MERGE_PATCH,
    });
    const next = this.#project(obj);
    // Only over the version the write started from: when the watch has
    // already delivered our write or anything after it (the object's
    // deletion, say), the answer is older than the cache and would hide
    // that change until the next event.
    const key = `${view.namespace}/${view.name}`;
    if (this.#store.get(key)?.resourceVersion === view.resourceVersion) {
      this.#store.apply(key, next);
    }
    return next;
  }

  /**
   * Adds a finalizer with a JSON Patch that tests the list first (see
   * finalizer.ts): a concurrent change of the list fails instead of being lost.
   */
  addFinalizer(view: V, finalizer: string): Promise<V> {
    const ops = addFinalizerOps(view.finalizers, finalizer);
    if (ops && this.#skipped(view, "add finalizer", { finalizer })) {
      return Promise.resolve({ ...view, finalizers: [...view.finalizers, finalizer] });
    }
    return ops ? this.#patch(view, ops, { contentType: JSON_PATCH }) : Promise.resolve(view);
  }

  /** Removes a finalizer (tested the same way); an object already gone is fine. */
  async removeFinalizer(view: V, finalizer: string): Promise<void> {
    const ops = removeFinalizerOps(view.finalizers, finalizer);
    if (!ops || this.#skipped(view, "remove finalizer", { finalizer })) return;
    try {
      await this.#api.request<KubeObject>({
        method: "PATCH",
        path: objectPath(this.#rt, view.namespace, view.name),
        body: ops,
        contentType: JSON_PATCH,
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Replaces `status` through the status subresource (the controller owns all of it). */
  writeStatus(view: V, status: unknown): Promise<V> {
    if (this.#skipped(view, "write status", { status })) return Promise.resolve(view);
    return this.#patch(view, { status }, { subresource: "status" });
  }

  /**
   * Sets (string) or removes (null) annotations, guarded by resourceVersion —
   * unless `unguarded`: for removing our own annotation from an object we
   * no longer watch, whose cached version may be old, and where no newer
   * value of it can be lost.
   */
  writeAnnotations(
    view: V,
    annotations: Record<string, string | null>,
    options: { unguarded?: boolean } = {},
  ): Promise<V> {
    if (this.#skipped(view, "write annotations", { annotations })) return Promise.resolve(view);
    const resourceVersion = options.unguarded ? undefined : view.resourceVersion;
    return this.#patch(view, { metadata: { resourceVersion, annotations } });
  }
}
