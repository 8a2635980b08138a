/**
 * A rate-limited, de-duplicating work queue in the manner of client-go's
 * workqueue, as controller-runtime uses it:
 *
 * - a key is queued at most once however often it is added (events for one
 *   object merge into one reconcile — level-triggered, not a replay log);
 * - a key being processed is never handed to a second worker; adding it
 *   meanwhile marks it dirty and it is queued again when `done` is called;
 * - `addAfter` delays a key (keeping the earliest time when delayed twice);
 * - `addRateLimited` delays it by a per-key exponential backoff (5 ms
 *   doubling to 1000 s) that `forget` resets after a success.
 *
 * One deliberate difference: after `shutDown`, `get` returns undefined at
 * once instead of handing out what is still queued. On SIGTERM we stop
 * taking work; the next leader lists everything anyway.
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "./clock.ts";

/** Hooks for the `workqueue_*` metrics (observability/metrics.ts implements them). */
export interface QueueMetrics {
  /** The number of queued keys changed (workqueue_depth). */
  depth(n: number): void;
  /** A key was newly queued (workqueue_adds_total). */
  added(): void;
  /** A key waited `seconds` between being queued and handed out (queue_duration). */
  queued(seconds: number): void;
  /** A key was processed for `seconds` (work_duration). */
  worked(seconds: number): void;
  /** A key was re-added by `addRateLimited` (workqueue_retries_total). */
  retried(): void;
  /**
   * Registers a probe read at scrape time for unfinished_work_seconds and
   * longest_running_processor_seconds, so no timer is needed.
   */
  inFlight(probe: () => { unfinishedSeconds: number; longestSeconds: number }): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  clock?: Clock;
  metrics?: QueueMetrics;
  /** First rate-limited delay (default 5 ms). */
  baseDelayMs?: number;
  /** Largest rate-limited delay (default 1000 s). */
  maxDelayMs?: number;
  /**
   * Start closed: adds are ignored until {@link WorkQueue.open}. A
   * controller's queue stays empty until the controller starts (on a
   * standby replica: until it leads), which then queues every cached key —
   * as controller-runtime starts a controller's sources only with it.
   */
  closed?: boolean;
}

/** A FIFO of keys with O(1) push and shift. */
class Fifo {
  #items: string[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(key: string): void {
    this.#items.push(key);
  }

  shift(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const key = this.#items[this.#head++];
    // Compact once the consumed prefix dominates, keeping shift O(1) amortised.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return key;
  }
}

/** A min-heap of delayed keys by ready time; stale entries are skipped on pop. */
class DelayHeap {
  readonly #heap: { key: string; at: number }[] = [];

  get length(): number {
    return this.#heap.length;
  }

  peek(): { key: string; at: number } | undefined {
    return this.#heap[0];
  }

  push(entry: { key: string; at: number }): void {
    const h = this.#heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= h[i].at) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  pop(): { key: string; at: number } | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.#siftDown();
    }
    return top;
  }

  clear(): void {
    this.#heap.length = 0;
  }

  #siftDown(): void {
    const h = this.#heap;
    for (let i = 0;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && h[l].at < h[min].at) min = l;
      if (r < h.length && h[r].at < h[min].at) min = r;
      if (min === i) return;
      [h[min], h[i]] = [h[i], h[min]];
      i = min;
    }
  }
}

/** controller-runtime's work queue; see the module documentation. */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #metrics?: QueueMetrics;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #queue = new Fifo();
  /** Keys that need processing: queued, or added again while processing. */
  readonly #dirty = new Set<string>();
  /** Key → when it was handed to a worker. */
  readonly #processing = new Map<string, number>();
  /** Key → when it was queued (for queue_duration). */
  readonly #queuedAt = new Map<string, number>();
  /** Delayed key → earliest ready time; the heap may hold stale entries. */
  readonly #waiting = new Map<string, number>();
  readonly #delays = new DelayHeap();
  #delayTimer?: { handle: TimerHandle; at: number };
  readonly #failures = new Map<string, number>();
  readonly #getters: ((key: string | undefined) => void)[] = [];
  readonly #drainWaiters = new Set<() => void>();
  #shuttingDown = false;
  #closed: boolean;

  constructor(options: WorkQueueOptions = {}) {
    this.#closed = options.closed ?? false;
    this.#clock = options.clock ?? realClock;
    this.#metrics = options.metrics;
    this.#baseDelayMs = options.baseDelayMs ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 1_000_000;
    this.#metrics?.inFlight(() => this.inFlight());
  }

  /** Number of keys ready to be handed out (not counting delayed or in-process keys). */
  get len(): number {
    return this.#queue.length;
  }

  /** True after {@link shutDown}. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Starts accepting keys (a queue created with `closed`). */
  open(): void {
    this.#closed = false;
  }

  /** Queues `key` unless it is already queued; a key being processed is queued again after `done`. */
  add(key: string): void {
    if (this.#shuttingDown || this.#closed || this.#dirty.has(key)) return;
    this.#metrics?.added();
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Queues `key` after `ms`; if it is already waiting, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown || this.#closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const current = this.#waiting.get(key);
    if (current !== undefined && current <= at) return;
    this.#waiting.set(key, at);
    this.#delays.push({ key, at });
    this.#scheduleDelayed();
  }

  /**
   * Queues `key` after its backoff — 5 ms × 2^(failures so far), at most
   * 1000 s — and counts a failure. Returns the delay used.
   */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** failures);
    if (this.#shuttingDown) return delay;
    this.#metrics?.retried();
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the failure count of `key`; call it after a successful reconcile. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many times `key` went through {@link addRateLimited} since the last `forget`. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * The next key to process, waiting until one is queued. Resolves to
   * undefined once the queue is shut down. Every key returned must be
   * passed to {@link done}.
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    if (this.#queue.length > 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks `key` processed; queues it again if it was added meanwhile. */
  done(key: string): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#metrics?.worked((this.#clock.now() - startedAt) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key);
    if (this.#processing.size === 0) {
      for (const wake of this.#drainWaiters) wake();
    }
  }

  /** Stops handing out keys: pending and future `get` calls resolve to undefined. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    if (this.#delayTimer) this.#clock.clearTimeout(this.#delayTimer.handle);
    this.#delayTimer = undefined;
    this.#waiting.clear();
    this.#delays.clear();
    for (const resolve of this.#getters.splice(0)) resolve(undefined);
  }

  /**
   * Shuts down and waits until every key handed out has been marked `done`,
   * at most `timeoutMs`. Resolves true when drained, false on timeout.
   */
  shutDownWithDrain(timeoutMs: number): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (drained: boolean) => {
        this.#clock.clearTimeout(timer);
        this.#drainWaiters.delete(wake);
        resolve(drained);
      };
      const wake = () => finish(true);
      const timer = this.#clock.setTimeout(() => finish(false), timeoutMs);
      this.#drainWaiters.add(wake);
    });
  }

  /** Keys currently handed out to workers. */
  processing(): string[] {
    return [...this.#processing.keys()];
  }

  /** Seconds of work in progress and of the longest-running key (for metrics). */
  inFlight(): { unfinishedSeconds: number; longestSeconds: number } {
    const now = this.#clock.now();
    let unfinished = 0;
    let longest = 0;
    for (const startedAt of this.#processing.values()) {
      const seconds = (now - startedAt) / 1000;
      unfinished += seconds;
      longest = Math.max(longest, seconds);
    }
    return { unfinishedSeconds: unfinished, longestSeconds: longest };
  }

  #enqueue(key: string): void {
    this.#queuedAt.set(key, this.#clock.now());
    const getter = this.#getters.shift();
    if (getter) {
      this.#queue.push(key);
      getter(this.#take());
      return;
    }
    this.#queue.push(key);
    this.#metrics?.depth(this.#queue.length);
  }

  /** Moves the next queued key to processing. */
  #take(): string | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#metrics?.depth(this.#queue.length);
    const now = this.#clock.now();
    this.#metrics?.queued((now - (this.#queuedAt.get(key) ?? now)) / 1000);
    this.#queuedAt.delete(key);
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    return key;
  }

  /** Keeps one timer, set for the earliest delayed key. */
  #scheduleDelayed(): void {
    const next = this.#nextDelayed();
    if (!next) return;
    if (this.#delayTimer && this.#delayTimer.at <= next.at) return;
    if (this.#delayTimer) this.#clock.clearTimeout(this.#delayTimer.handle);
    const handle = this.#clock.setTimeout(
      () => this.#fireDelayed(),
      next.at - this.#clock.now(),
    );
    this.#delayTimer = { handle, at: next.at };
  }

  #fireDelayed(): void {
    this.#delayTimer = undefined;
    const now = this.#clock.now();
    for (let next = this.#nextDelayed(); next && next.at <= now; next = this.#nextDelayed()) {
      this.#delays.pop();
      this.#waiting.delete(next.key);
      this.add(next.key);
    }
    this.#scheduleDelayed();
  }

  /** The earliest live heap entry, dropping entries superseded by an earlier addAfter. */
  #nextDelayed(): { key: string; at: number } | undefined {
    for (let top = this.#delays.peek(); top; top = this.#delays.peek()) {
      if (this.#waiting.get(top.key) === top.at) return top;
      this.#delays.pop();
    }
    return undefined;
  }
}
