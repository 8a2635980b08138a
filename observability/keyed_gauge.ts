/**
 * A per-controller gauge summed over keys: each key (an object) reports its
 * own count, and the gauge shows the total for the controller — kept as a
 * running sum, so a report costs O(1) however many objects there are. Used
 * for router_hosts_managed_hosts and router_hosts_hostname_conflicts.
 *
 * @module
 */

/** The gauge it publishes to (prom-client's `Gauge<"controller">` fits). */
export interface ControllerGauge {
  set(labels: { controller: string }, value: number): void;
}

/** See the module documentation. */
export class KeyedGauge {
  readonly #gauge: ControllerGauge;
  readonly #controller: string;
  readonly #values = new Map<string, number>();
  #total = 0;

  /** Publishes 0 for `controller` at once, so the series exists before any object. */
  constructor(gauge: ControllerGauge, controller: string) {
    this.#gauge = gauge;
    this.#controller = controller;
    this.#publish();
  }

  /** `key` counts `value` now (0 drops it). */
  set(key: string, value: number): void {
    const before = this.#values.get(key) ?? 0;
    if (before === value) return;
    if (value === 0) this.#values.delete(key);
    else this.#values.set(key, value);
    this.#total += value - before;
    this.#publish();
  }

  /** The key's object is gone. */
  delete(key: string): void {
    this.set(key, 0);
  }

  /** The sum over keys. */
  get total(): number {
    return this.#total;
  }

  #publish(): void {
    this.#gauge.set({ controller: this.#controller }, this.#total);
  }
}
