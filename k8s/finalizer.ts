/**
 * Finalizers, added and removed without losing anyone else's.
 *
 * A JSON merge patch replaces `metadata.finalizers` as a whole list, so a
 * patch built from a stale copy would silently drop a finalizer another
 * controller added meanwhile. Every patch here carries the object's
 * `metadata.resourceVersion`: the API server then answers 409 Conflict
 * instead of applying it to a newer object, and the caller retries with
 * fresh data (the controller's rate-limited retry does exactly that).
 *
 * {@link finalize} is kube-rs's `finalizer()` helper: it splits a reconcile
 * into Apply (the object lives; our finalizer is added before the first
 * external write) and Cleanup (the object is being deleted and still
 * carries our finalizer; it is removed once cleanup succeeded), so no
 * controller repeats that flow.
 *
 * @module
 */
import { isNotFound } from "./client.ts";
import type { Outcome } from "./controller.ts";
import { objectPath, type ResourceType } from "./resource.ts";

/** The fields a finalizer change reads. */
export interface FinalizerTarget {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    finalizers?: string[];
  };
}

/** A merge patch setting the finalizer list, guarded by resourceVersion. */
export interface FinalizerPatch {
  metadata: { finalizers: string[]; resourceVersion: string };
}

/** The part of KubeClient the helpers use. */
export interface FinalizerClient {
  mergePatch<T>(path: string, patch: unknown): Promise<T>;
}

/** True when `obj` carries finalizer `name`. */
export function hasFinalizer(obj: FinalizerTarget, name: string): boolean {
  return obj.metadata?.finalizers?.includes(name) ?? false;
}

/** The patch adding `name`, or undefined when it is already there. */
export function addFinalizerPatch(obj: FinalizerTarget, name: string): FinalizerPatch | undefined {
  if (hasFinalizer(obj, name)) return undefined;
  return guardedPatch(obj, [...(obj.metadata?.finalizers ?? []), name]);
}

/** The patch removing `name`, or undefined when it is not there. */
export function removeFinalizerPatch(
  obj: FinalizerTarget,
  name: string,
): FinalizerPatch | undefined {
  if (!hasFinalizer(obj, name)) return undefined;
  return guardedPatch(obj, (obj.metadata?.finalizers ?? []).filter((f) => f !== name));
}

function guardedPatch(obj: FinalizerTarget, finalizers: string[]): FinalizerPatch {
  const resourceVersion = obj.metadata?.resourceVersion;
  if (!resourceVersion) {
    throw new Error(
      `${describe(obj)}: no metadata.resourceVersion; a finalizer patch without it could ` +
        "overwrite a concurrent change",
    );
  }
  return { metadata: { finalizers, resourceVersion } };
}

/**
 * Adds finalizer `name` and returns the patched object (or `obj` itself when
 * nothing had to change). Throws KubeApiError 409 when `obj` is stale.
 */
export async function addFinalizer<T extends FinalizerTarget>(
  client: FinalizerClient,
  rt: ResourceType,
  obj: T,
  name: string,
): Promise<T> {
  const patch = addFinalizerPatch(obj, name);
  if (!patch) return obj;
  return await client.mergePatch<T>(pathOf(rt, obj), patch);
}

/**
 * Removes finalizer `name` and returns the patched object, `obj` itself when
 * it had no such finalizer, or undefined when the object is already gone
 * (404: nothing is left to release). Throws KubeApiError 409 when
 * `obj` is stale.
 */
export async function removeFinalizer<T extends FinalizerTarget>(
  client: FinalizerClient,
  rt: ResourceType,
  obj: T,
  name: string,
): Promise<T | undefined> {
  const patch = removeFinalizerPatch(obj, name);
  if (!patch) return obj;
  try {
    return await client.mergePatch<T>(pathOf(rt, obj), patch);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

function pathOf(rt: ResourceType, obj: FinalizerTarget): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error("object has no metadata.name");
  return objectPath(rt, obj.metadata?.namespace, name);
}

function describe(obj: FinalizerTarget): string {
  const md = obj.metadata ?? {};
  return md.namespace ? `${md.namespace}/${md.name}` : `${md.name}`;
}

/** The finalizer writes {@link finalize} makes (ObjectWriter implements them). */
export interface FinalizerWriter<V> {
  /** Adds `name`; returns the object as written. */
  addFinalizer(view: V, name: string): Promise<V>;
  /** Removes `name`; an object already gone is fine. */
  removeFinalizer(view: V, name: string): Promise<void>;
}

/** The two halves of a reconcile under a finalizer. */
export interface FinalizerHandlers<V> {
  /**
   * The object lives. Call `ensureFinalizer` before the first external
   * write (it adds ours when missing and returns the object as written);
   * an object that needs no external write then costs no request.
   */
  apply(view: V, ensureFinalizer: () => Promise<V>): Promise<Outcome>;
  /**
   * The object is being deleted and carries our finalizer: undo every
   * external effect. The finalizer is removed after it resolves; when it
   * throws, the finalizer stays and the reconcile is retried.
   */
  cleanup(view: V): Promise<Outcome>;
}

/**
 * Runs `handlers.apply` or `handlers.cleanup` for `view`, owning finalizer
 * `name`. An object being deleted without our finalizer is left alone: its
 * cleanup is done, or it never had external effects.
 */
export async function finalize<V extends { deletionTimestamp?: string; finalizers: string[] }>(
  writer: FinalizerWriter<V>,
  name: string,
  view: V,
  handlers: FinalizerHandlers<V>,
): Promise<Outcome> {
  if (view.deletionTimestamp) {
    if (!view.finalizers.includes(name)) return {};
    const outcome = await handlers.cleanup(view);
    await writer.removeFinalizer(view, name);
    return outcome;
  }
  return await handlers.apply(
    view,
    () => view.finalizers.includes(name) ? Promise.resolve(view) : writer.addFinalizer(view, name),
  );
}
