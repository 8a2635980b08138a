/**
 * Exponential backoff with jitter and a reset after a healthy period — the
 * policy client-go's reflector uses between failed list/watch attempts.
 *
 * @module
 */
import { type Clock, realClock } from "./clock.ts";

/** Tuning of a {@link Backoff}; the defaults are client-go's reflector values. */
export interface BackoffOptions {
  /** First delay (default 800 ms). */
  initialMs?: number;
  /** Largest delay (default 30 s). */
  maxMs?: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
  /**
   * Fraction of each delay that is random (default 0.2): a delay d becomes a
   * value in [d × (1 − jitter), d], so many clients restarted together spread
   * out without ever waiting longer than `maxMs`.
   */
  jitter?: number;
  /** A failure after this long without one starts again at `initialMs` (default 2 min). */
  resetAfterMs?: number;
  clock?: Clock;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Hands out growing delays for consecutive failures. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #resetAfterMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  #failures = 0;
  #lastFailureAt: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 800;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.2;
    this.#resetAfterMs = options.resetAfterMs ?? 120_000;
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    const now = this.#clock.now();
    // Healthy for long enough: the previous failures say nothing about this one.
    if (this.#lastFailureAt !== undefined && now - this.#lastFailureAt > this.#resetAfterMs) {
      this.#failures = 0;
    }
    this.#lastFailureAt = now;
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#failures);
    this.#failures++;
    return base * (1 - this.#jitter * this.#random());
  }

  /** Forgets all failures. */
  reset(): void {
    this.#failures = 0;
    this.#lastFailureAt = undefined;
  }
}
