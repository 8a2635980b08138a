/**
 * The manager owns the process: it starts the runnables (listeners for
 * metrics, probes and the webhook; certificate rotation — ./runnable.ts),
 * then informers (on every replica, so a standby's cache is warm) and
 * controllers (only on the leader when leader election is on), answers
 * readiness, and on SIGTERM or SIGINT (./signals.ts) shuts down in order —
 * controllers drain, informers stop, the Lease is released, the runnables
 * stop. A manager with no units serves only its runnables (the operator's
 * webhook-only mode).
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import type { Controller } from "./controller.ts";
import type { LeaderElector } from "./leader.ts";
import type { ManagerStatus, Runnable } from "./runnable.ts";
import { stopSignals } from "./signals.ts";

/** What the manager needs of an informer. */
export interface InformerLike {
  run(signal: AbortSignal): Promise<void>;
  hasSynced(): boolean;
  waitForSync(signal: AbortSignal): Promise<boolean>;
  /** True while its resource is not served (CRD not installed); it does not hold readiness back. */
  readonly missing?: boolean;
}

/** What the manager needs of a controller (./controller.ts). */
export type ControllerLike = Pick<Controller, "start" | "stop">;

/** A controller and the informers that feed it (an informer may feed several). */
export interface Unit {
  informers: InformerLike[];
  controller: ControllerLike;
}

/** Options of {@link Manager}. */
export interface ManagerOptions {
  log: Logger;
  /** The controllers; none for a process that only serves its runnables. */
  units?: Unit[];
  /** Started first, in order, on every replica; stopped last, in reverse order. */
  runnables?: Runnable[];
  elector?: LeaderElector;
  /** How long in-flight reconciles may run on shutdown (default 25 s, under the pod's 30 s grace). */
  drainTimeoutMs?: number;
}

/** Runs the units; see the module documentation. */
export class Manager implements ManagerStatus {
  readonly #o: ManagerOptions;
  readonly #units: Unit[];
  #state: "starting" | "standby" | "leading" | "stopping" = "starting";

  constructor(options: ManagerOptions) {
    this.#o = options;
    this.#units = options.units ?? [];
  }

  /** Readiness: a standby is ready; a leader once every served informer has synced. */
  ready(): { ok: boolean; reason: string } {
    if (this.#state === "standby") {
      return { ok: true, reason: "standby, waiting for the leader lease" };
    }
    if (this.#state === "stopping") return { ok: false, reason: "shutting down" };
    if (this.#state === "starting") return { ok: false, reason: "starting" };
    if (this.#units.length === 0) return { ok: true, reason: "serving (no controllers)" };
    const waiting = this.#informers().filter((i) => !i.hasSynced() && !i.missing);
    return waiting.length === 0
      ? { ok: true, reason: "caches synced" }
      : { ok: false, reason: `${waiting.length} cache(s) not yet synced` };
  }

  /** Every informer once: units that watch the same kind share one informer. */
  #informers(): InformerLike[] {
    return [...new Set(this.#units.flatMap((u) => u.informers))];
  }

  /**
   * Runs until `signal` aborts — by default the first SIGTERM or SIGINT —
   * (resolves 0 after an orderly shutdown) or the Lease is lost (resolves 1:
   * the process must exit so it restarts clean). Rejects, with nothing left
   * running, when a runnable cannot start.
   */
  async run(signal?: AbortSignal): Promise<number> {
    using signals = signal ? undefined : stopSignals(this.#o.log);
    const stop = signal ?? signals!.signal;
    const started: Runnable[] = [];
    const drain = () => started.forEach((r) => r.drain?.());
    stop.addEventListener("abort", drain, { once: true });
    try {
      for (const r of this.#o.runnables ?? []) {
        await r.start(this);
        started.push(r);
      }
      return await this.#runUnits(stop);
    } finally {
      stop.removeEventListener("abort", drain);
      for (const r of started.reverse()) await r.stop();
    }
  }

  async #runUnits(signal: AbortSignal): Promise<number> {
    const { log, elector } = this.#o;
    const units = this.#units;
    const informersStop = new AbortController();
    const workStop = new AbortController();
    let lost: Promise<Error | undefined> = new Promise(() => {});
    // Caches fill on standbys too, so a new leader starts with a warm cache.
    const informerRuns = this.#informers().map((i) => i.run(informersStop.signal));
    if (elector) {
      this.#state = "standby";
      if (!await elector.acquire(signal)) {
        informersStop.abort();
        await Promise.allSettled(informerRuns);
        return 0;
      }
      lost = elector.holdUntil(workStop.signal).then(() => undefined, (e: Error) => e);
    }
    this.#state = "leading";
    const controllerRuns = units.map(async (u) => {
      await Promise.all(u.informers.map((i) => i.waitForSync(workStop.signal)));
      if (!workStop.signal.aborted) await u.controller.start(new AbortController().signal);
    });
    const stopped = new Promise<void>((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })
    );
    const lostError = await Promise.race([lost, stopped.then(() => undefined)]);
    this.#state = "stopping";
    if (lostError) {
      log.error("leadership lost; exiting so a fresh process can stand by", { error: lostError });
      workStop.abort();
      informersStop.abort();
      await Promise.all(units.map((u) => u.controller.stop(1_000)));
      return 1;
    }
    log.info(units.length > 0 ? "shutting down: draining reconciles" : "shutting down");
    const drained = await Promise.all(
      units.map((u) => u.controller.stop(this.#o.drainTimeoutMs ?? 25_000)),
    );
    if (drained.includes(false)) log.warn("some reconciles did not finish before the drain bound");
    workStop.abort();
    informersStop.abort();
    await Promise.allSettled([...informerRuns, ...controllerRuns]);
    await elector?.release();
    log.info("stopped");
    return 0;
  }
}
