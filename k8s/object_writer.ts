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
import { addFinalizerPatch, type FinalizerTarget, removeFinalizerPatch } from "./finalizer.ts";
import { type KubeObject, objectPath, type ResourceType } from "./resource.ts";
import type { Store } from "./store.ts";
import type { ObjectView } from "./view.ts";
import type { Logger } from "../observability/log.ts";

/** The request the writer makes (KubeClient implements it). */
export interface RequestApi {
  request<T>(opts: RequestOptions): Promise<T>;
}

/** What the writer reads of a cached view. */
export type ViewMeta = Pick<ObjectView, "namespace" | "name" | "resourceVersion" | "finalizers">;

const MERGE_PATCH = "application/merge-patch+json";

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

  async #patch(view: V, patch: unknown, subresource?: string): Promise<V> {
    const obj = await this.#api.request<KubeObject>({
      method: "PATCH",
      path: objectPath(this.#rt, view.namespace, view.name, subresource),
      body: patch,
      contentType: MERGE_PATCH,
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
   * Adds a finalizer with a patch guarded by resourceVersion (see
   * finalizer.ts): a concurrent change fails with 409 instead of being lost.
   */
  addFinalizer(view: V, finalizer: string): Promise<V> {
    const patch = addFinalizerPatch(asTarget(view), finalizer);
    if (patch && this.#skipped(view, "add finalizer", { finalizer })) {
      return Promise.resolve({ ...view, finalizers: [...view.finalizers, finalizer] });
    }
    return patch ? this.#patch(view, patch) : Promise.resolve(view);
  }

  /** Removes a finalizer (guarded the same way); an object already gone is fine. */
  async removeFinalizer(view: V, finalizer: string): Promise<void> {
    const patch = removeFinalizerPatch(asTarget(view), finalizer);
    if (!patch || this.#skipped(view, "remove finalizer", { finalizer })) return;
    try {
      await this.#api.request<KubeObject>({
        method: "PATCH",
        path: objectPath(this.#rt, view.namespace, view.name),
        body: patch,
        contentType: MERGE_PATCH,
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Replaces `status` through the status subresource (the controller owns all of it). */
  writeStatus(view: V, status: unknown): Promise<V> {
    if (this.#skipped(view, "write status", { status })) return Promise.resolve(view);
    return this.#patch(view, { status }, "status");
  }

  /** Sets (string) or removes (null) annotations, guarded by resourceVersion. */
  writeAnnotations(view: V, annotations: Record<string, string | null>): Promise<V> {
    if (this.#skipped(view, "write annotations", { annotations })) return Promise.resolve(view);
    return this.#patch(view, { metadata: { resourceVersion: view.resourceVersion, annotations } });
  }
}

function asTarget(view: ViewMeta): FinalizerTarget {
  return {
    metadata: {
      name: view.name,
      namespace: view.namespace,
      resourceVersion: view.resourceVersion,
      finalizers: view.finalizers,
    },
  };
}
