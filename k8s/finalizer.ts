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
 * @module
 */
import { isNotFound } from "./client.ts";
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
