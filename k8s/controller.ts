/**
 * The reconcile loop: workers take keys from a {@link WorkQueue}, call
 * `reconcile(key)`, and turn its outcome into queue actions and metrics —
 * controller-runtime's contract:
 *
 * - `{}` → success: the key's backoff is reset;
 * - `{ requeueAfterMs }` → reconcile again after that delay (backoff reset);
 * - `{ requeue: true }` → reconcile again after the key's backoff;
 * - a thrown error → retried after the key's backoff (5 ms doubling to
 *   1000 s), unless it is a {@link TerminalError}: logged, counted, not
 *   retried until the object changes.
 *
 * The queue never hands one key to two workers, so reconciles of one
 * object never overlap.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import type { ControllerMetrics, ReconcileResult } from "./controller_metrics.ts";
import { type Clock, realClock, sleep } from "./clock.ts";
import { WorkQueue } from "./queue.ts";

/** How long cancelled reconciles get to return before `stop` gives up on them. */
const STOP_GRACE_MS = 1_000;

/** What a reconcile asks for next; `{}` means "done until something changes". */
export interface Outcome {
  /** Reconcile again after this many milliseconds. */
  requeueAfterMs?: number;
  /** Reconcile again after the key's rate-limited backoff, without counting an error. */
  requeue?: boolean;
}

/** An error that retrying cannot fix (invalid spec, refused adoption): not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** Reconciles one key; `signal` aborts when the controller stops for good. */
export type Reconciler = (key: string, signal: AbortSignal) => Promise<Outcome>;

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Controller name: the `controller` label of every metric and log line. */
  name: string;
  /** The work queue; one with metrics hooks is created when omitted. */
  queue?: WorkQueue;
  reconcile: Reconciler;
  /** Concurrent reconciles (of different keys). */
  workers: number;
  log: Logger;
  metrics: ControllerMetrics;
  /** Re-enqueue every key this often (jittered up to +10 %); no resync when omitted. */
  resyncPeriodMs?: number;
  /** Every key (usually the informer store's): queued at start and at each resync. */
  keys: () => Iterable<string>;
  /** Drain bound used when `start`'s signal aborts (default 30 s). */
  drainTimeoutMs?: number;
  clock?: Clock;
  random?: () => number;
}

/** Runs a reconciler with a bounded number of workers; see the module documentation. */
export class Controller {
  /** The controller's name. */
  readonly name: string;
  /** The controller's queue; event handlers `add` keys to it. */
  readonly queue: WorkQueue;
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Aborted when a stop's drain bound expires: reconciles still running must give up. */
  readonly #hardStop = new AbortController();
  /** Ends the resync loop. */
  readonly #stopResync = new AbortController();
  #workers?: Promise<void>;
  #stopping?: Promise<boolean>;

  constructor(options: ControllerOptions) {
    if (!(options.workers >= 1)) throw new Error(`controller ${options.name}: workers must be ≥ 1`);
    this.name = options.name;
    this.#o = options;
    this.#log = options.log.with({ controller: options.name });
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    this.queue = options.queue ??
      new WorkQueue({
        clock: this.#clock,
        metrics: options.metrics.workQueue(options.name),
        closed: true,
      });
    options.metrics.initController(options.name, options.workers);
  }

  /**
   * Opens the queue and queues every key `keys` lists (the informers have
   * synced: that is everything), then starts the workers and the resync
   * loop. Resolves once every worker has exited, after {@link stop} or
   * after `signal` aborts (which stops with the `drainTimeoutMs` bound).
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#workers) return this.#workers;
    this.queue.open();
    for (const key of this.#o.keys()) this.queue.add(key);
    const workers = Array.from({ length: this.#o.workers }, () => this.#worker());
    this.#workers = Promise.all(workers).then(() => {});
    if (this.#o.resyncPeriodMs) this.#resyncLoop(this.#o.resyncPeriodMs);
    const onAbort = () => this.stop(this.#o.drainTimeoutMs ?? 30_000);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    this.#log.info("controller started", { workers: this.#o.workers });
    return this.#workers;
  }

  /**
   * Stops taking keys and waits up to `drainTimeoutMs` for running
   * reconciles to finish; then aborts their signals and gives them a short
   * grace to return. Resolves true when everything finished within the
   * bound. Calling it again returns the same promise.
   */
  stop(drainTimeoutMs: number): Promise<boolean> {
    this.#stopping ??= this.#stop(drainTimeoutMs);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<boolean> {
    this.#stopResync.abort();
    const drained = await this.queue.shutDownWithDrain(drainTimeoutMs);
    if (!drained) {
      this.#log.warn("reconciles still running after the drain timeout; cancelling them", {
        keys: this.queue.processing(),
        drainTimeoutMs,
      });
      this.#hardStop.abort();
    }
    if (this.#workers && drained) {
      await this.#workers;
    } else if (this.#workers) {
      // A reconcile that ignores its signal must not keep shutdown waiting forever.
      const grace = new AbortController();
      await Promise.race([this.#workers, sleep(this.#clock, STOP_GRACE_MS, grace.signal)]);
      grace.abort();
    }
    this.#log.info("controller stopped", { drained });
    return drained;
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.#process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  async #process(key: string): Promise<void> {
    const { metrics, name } = this.#o;
    metrics.reconcileStarted(name);
    const started = this.#clock.now();
    let result: ReconcileResult = "error";
    try {
      result = this.#applyOutcome(key, await this.#o.reconcile(key, this.#hardStop.signal));
    } catch (e) {
      result = this.#applyError(key, e);
    } finally {
      // In finally, so active_workers comes down whatever happens.
      metrics.reconcileFinished(name, result, (this.#clock.now() - started) / 1000);
    }
  }

  #applyOutcome(key: string, outcome: Outcome | undefined): ReconcileResult {
    const after = outcome?.requeueAfterMs;
    if (after !== undefined && after > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, after);
      return "requeue_after";
    }
    if (outcome?.requeue) {
      this.queue.addRateLimited(key);
      return "requeue";
    }
    this.queue.forget(key);
    return "success";
  }

  #applyError(key: string, e: unknown): ReconcileResult {
    const terminal = e instanceof TerminalError;
    this.#o.metrics.reconcileFailed(this.#o.name, terminal);
    if (terminal) {
      this.queue.forget(key);
      this.#log.error("reconcile failed; not retrying until the object changes", {
        key,
        error: e,
      });
      return "error";
    }
    const retryInMs = this.queue.addRateLimited(key);
    this.#log.error("reconcile failed; will retry", {
      key,
      error: e instanceof Error ? e : String(e),
      retryInMs,
      attempt: this.queue.numRequeues(key),
    });
    return "error";
  }

  /** Enqueues every key each period, jittered so replicas and controllers do not align. */
  async #resyncLoop(periodMs: number): Promise<void> {
    const signal = this.#stopResync.signal;
    while (!signal.aborted) {
      await sleep(this.#clock, periodMs * (1 + 0.1 * this.#random()), signal);
      if (signal.aborted) return;
      try {
        let count = 0;
        for (const key of this.#o.keys()) {
          this.queue.add(key);
          count++;
        }
        this.#log.debug("resync", { keys: count });
      } catch (e) {
        this.#log.error("resync failed to list keys", {
          error: e instanceof Error ? e : String(e),
        });
      }
    }
  }
}
