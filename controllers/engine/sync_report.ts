/**
 * What one reconcile of a key did, as a value ({@link SyncReport}), and the
 * bookkeeping every controller's wiring does with it ({@link SyncBook}): the
 * per-controller gauges router_hosts_managed_hosts and
 * router_hosts_hostname_conflicts, the waits and releases on the
 * {@link ConflictBoard}, and the outcome (or error) handed to the
 * controller. The reconcilers of the sources and of HostMapping report the
 * same way and never call back into their wiring.
 *
 * @module
 */
import type { Outcome } from "../../k8s/controller.ts";
import { outcomeOf, type Reported } from "../../k8s/finalizer.ts";
import { type ControllerGauge, KeyedGauge } from "../../observability/keyed_gauge.ts";
import type { ConflictBoard } from "../hosts/policy.ts";

/**
 * What one reconcile of a key did; a field left out did not change. Its
 * `outcome` or `error` ({@link Reported}) is what the controller gets.
 */
export interface SyncReport extends Reported {
  /** How many entries the key holds on router-hosts now. */
  managed?: number;
  /** Hostnames of the key that another object holds: the key waits for them. */
  conflicts?: readonly string[];
  /** Hostnames whose entries the pass deleted: whoever waits for them is woken. */
  released?: readonly string[];
}

/** A thrown value as an Error (the report carries Errors only). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Options of {@link SyncBook}. */
export interface SyncBookOptions {
  /** The controller name: the gauges' `controller` label and the board's waiter prefix. */
  controller: string;
  /** router_hosts_managed_hosts. */
  managed: ControllerGauge;
  /** router_hosts_hostname_conflicts. */
  conflicts: ControllerGauge;
  /** Shared by every controller, so a loser wakes when any of them releases the name. */
  board: ConflictBoard;
  /** Enqueues `key` (a conflict's loser, when the hostname it waits for is released). */
  wake: (key: string) => void;
}

/** The bookkeeping of one controller; see the module documentation. */
export class SyncBook {
  readonly #o: SyncBookOptions;
  readonly #managed: KeyedGauge;
  readonly #conflicts: KeyedGauge;

  constructor(options: SyncBookOptions) {
    this.#o = options;
    this.#managed = new KeyedGauge(options.managed, options.controller);
    this.#conflicts = new KeyedGauge(options.conflicts, options.controller);
  }

  /** Books `report` for `key`; returns its outcome, or throws its error for the controller. */
  settle(key: string, report: SyncReport): Outcome {
    for (const hostname of report.released ?? []) this.#o.board.release(hostname);
    if (report.managed !== undefined) this.#managed.set(key, report.managed);
    if (report.conflicts !== undefined) this.#wait(key, report.conflicts);
    return outcomeOf(report);
  }

  /** The key's object is gone: it counts nothing and waits for nothing. */
  forget(key: string): void {
    this.#managed.delete(key);
    this.#wait(key, []);
  }

  #wait(key: string, hostnames: readonly string[]): void {
    const waiter = `${this.#o.controller}/${key}`;
    this.#o.board.forget(waiter);
    for (const h of hostnames) this.#o.board.wait(h, waiter, () => this.#o.wake(key));
    this.#conflicts.set(key, hostnames.length);
  }
}
