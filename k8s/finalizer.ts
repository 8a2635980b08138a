/**
 * Finalizers, added and removed without losing anyone else's, and the
 * apply/cleanup flow around them.
 *
 * Finalizer writes are JSON Patches (RFC 6902) whose first operation tests
 * exactly what the change relies on — kube-rs's approach: adding tests the
 * list as we saw it (or that there is none), removing tests that ours is
 * still at the index we saw. A concurrent writer that changed the list makes
 * the test fail (the API server answers 422) and the controller retries
 * with fresh data; a concurrent change of anything else (labels, status,
 * annotations) does not get in the way, as a resourceVersion guard would.
 * A merge patch would replace the whole list from a stale copy and drop a
 * finalizer another controller added meanwhile.
 *
 * {@link finalize} is kube-rs's `finalizer()` helper: it splits a reconcile
 * into Apply (the object lives; our finalizer is added before the first
 * external write) and Cleanup (the object is being deleted and still
 * carries our finalizer; it is removed once cleanup succeeded), so no
 * controller repeats that flow. {@link finalizeReporting} is the same for
 * reconcilers that return what happened instead of throwing.
 *
 * @module
 */
import type { JsonPatchOp } from "./client.ts";
import type { Outcome } from "./controller.ts";

/** The JSON Patch adding `name` to `finalizers` (as cached), or undefined when it is there. */
export function addFinalizerOps(
  finalizers: readonly string[],
  name: string,
): JsonPatchOp[] | undefined {
  if (finalizers.includes(name)) return undefined;
  // The API server never serves an empty list (omitempty): none is absent.
  if (finalizers.length === 0) {
    return [
      { op: "test", path: "/metadata/finalizers", value: null },
      { op: "add", path: "/metadata/finalizers", value: [name] },
    ];
  }
  return [
    { op: "test", path: "/metadata/finalizers", value: [...finalizers] },
    { op: "add", path: "/metadata/finalizers/-", value: name },
  ];
}

/** The JSON Patch removing `name` from `finalizers` (as cached), or undefined when it is not there. */
export function removeFinalizerOps(
  finalizers: readonly string[],
  name: string,
): JsonPatchOp[] | undefined {
  const i = finalizers.indexOf(name);
  if (i < 0) return undefined;
  return [
    { op: "test", path: `/metadata/finalizers/${i}`, value: name },
    { op: "remove", path: `/metadata/finalizers/${i}` },
  ];
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

/** A reconcile's result that carries its own failure: what happens next, or why not. */
export interface Reported {
  /** What the controller does next, when the pass succeeded. */
  outcome?: Outcome;
  /** Why the pass failed: retried with backoff, or not at all when a `TerminalError`. */
  error?: Error;
}

/** `reported`'s outcome; its error thrown (for {@link finalize} and the controller). */
export function outcomeOf(reported: Reported): Outcome {
  if (reported.error) throw reported.error;
  return reported.outcome ?? {};
}

/** {@link FinalizerHandlers} that return what happened. */
export interface ReportingHandlers<V, R extends Reported> {
  /** The object lives; `ensureFinalizer` before the first external write. */
  apply(view: V, ensureFinalizer: () => Promise<V>): Promise<R>;
  /** The object is being deleted and carries our finalizer; an error keeps the finalizer. */
  cleanup(view: V): Promise<R>;
}

/**
 * {@link finalize} for handlers that report: the finalizer is removed only
 * after a cleanup without error, and whatever fails — a handler or a
 * finalizer write — ends up as the result's error, never thrown. All of
 * `R`'s fields are optional: an object left alone reports nothing (`{}`).
 */
export async function finalizeReporting<
  V extends { deletionTimestamp?: string; finalizers: string[] },
  R extends Reported,
>(
  writer: FinalizerWriter<V>,
  name: string,
  view: V,
  handlers: ReportingHandlers<V, R>,
): Promise<R> {
  let reported = {} as R;
  try {
    const outcome = await finalize(writer, name, view, {
      apply: async (v, ensureFinalizer) =>
        outcomeOf(reported = await handlers.apply(v, ensureFinalizer)),
      cleanup: async (v) => outcomeOf(reported = await handlers.cleanup(v)),
    });
    return { ...reported, outcome };
  } catch (e) {
    return {
      ...reported,
      error: reported.error ?? (e instanceof Error ? e : new Error(String(e))),
    };
  }
}
