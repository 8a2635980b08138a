/**
 * What the runtime reports about its controllers and work queues: a narrow
 * interface, so k8s/ knows nothing of the operator's metrics registry.
 * observability/metrics.ts implements it with controller-runtime's metric
 * names and labels.
 *
 * @module
 */
import type { QueueMetrics } from "./queue.ts";

/** The reconcile results controller-runtime reports. */
export const RECONCILE_RESULTS = ["success", "error", "requeue", "requeue_after"] as const;
/** One of {@link RECONCILE_RESULTS}. */
export type ReconcileResult = typeof RECONCILE_RESULTS[number];

/** The metrics of controllers (see the module documentation). */
export interface ControllerMetrics {
  /**
   * Creates the series of controller `name` at their zero values, so rates
   * exist before the first event.
   */
  initController(name: string, maxConcurrentReconciles: number): void;
  /** The hooks of controller `name`'s work queue. */
  workQueue(name: string): QueueMetrics;
  /** A worker took a key of `controller` (active_workers up). */
  reconcileStarted(controller: string): void;
  /** That reconcile ended with `result` after `seconds` (active_workers down). */
  reconcileFinished(controller: string, result: ReconcileResult, seconds: number): void;
  /** A reconcile failed; a terminal failure is not retried. */
  reconcileFailed(controller: string, terminal: boolean): void;
}
