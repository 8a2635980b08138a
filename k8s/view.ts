/**
 * The metadata every cached view of a reconciled object keeps, and the
 * fingerprint that stands in for labels and annotations.
 *
 * @module
 */
import type { KubeObject } from "./resource.ts";

/** Metadata a reconcile reads; controllers' views extend it with their spec. */
export interface ObjectView {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  deletionTimestamp?: string;
  finalizers: string[];
  /**
   * A fingerprint of labels and annotations: a change wakes the controller
   * (`kubectl annotate ... reconcile=now` forces a check) without keeping
   * large annotations such as last-applied-configuration in memory.
   */
  metaHash: string;
}

/** A short stable hash (FNV-1a, 32 bit) of a JSON value. */
export function fingerprint(value: unknown): string {
  const text = JSON.stringify(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** The {@link ObjectView} of `obj`; `ignoredAnnotations` (our own) do not enter the fingerprint. */
export function viewOf(obj: KubeObject, ignoredAnnotations: readonly string[] = []): ObjectView {
  const md = obj.metadata ?? {};
  const annotations = { ...(md.annotations ?? {}) };
  for (const key of ignoredAnnotations) delete annotations[key];
  const view: ObjectView = {
    namespace: md.namespace ?? "",
    name: md.name ?? "",
    uid: md.uid ?? "",
    resourceVersion: md.resourceVersion ?? "",
    generation: md.generation ?? 0,
    finalizers: md.finalizers ?? [],
    metaHash: fingerprint([md.labels ?? {}, annotations]),
  };
  if (md.deletionTimestamp) view.deletionTimestamp = md.deletionTimestamp;
  return view;
}
