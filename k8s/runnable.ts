/**
 * Runnables: the process's pieces besides the controllers — HTTP listeners
 * (metrics, probes, a webhook), background loops (certificate rotation) —
 * that the manager (./manager.ts) starts before the controllers and stops
 * after they drained, on every replica, leader or not.
 *
 * @module
 */

/** What a runnable may ask of the manager that runs it. */
export interface ManagerStatus {
  /** Readiness: see `Manager.ready`. */
  ready(): { ok: boolean; reason: string };
}

/** A piece of the process with a start and a stop. */
export interface Runnable {
  /** For logs and errors, e.g. "metrics and probes". */
  readonly name: string;
  /**
   * Starts it and resolves once it works (a listener is bound). A rejection
   * fails the manager's start: runnables already started are stopped and
   * nothing else starts.
   */
  start(manager: ManagerStatus): Promise<void> | void;
  /**
   * Called at the stop signal, while the controllers drain, for a runnable
   * whose work must end within the grace period too (a server taking
   * writes); `stop` still follows.
   */
  drain?(): void;
  /** Stops it; called once, after the controllers drained, in reverse start order. */
  stop(): Promise<void>;
}

/** A running server: what `Deno.serve` wrappers return. */
export interface Server {
  shutdown(): Promise<void>;
}

/**
 * Servers bound by `listen` as one runnable. A failure to bind rejects the
 * start with "cannot listen: <reason>"; stop shuts every server down — or,
 * with `drainAtStopSignal`, the stop signal already does (and stop waits).
 */
export function serverRunnable(
  name: string,
  listen: (manager: ManagerStatus) => Server[],
  options: { drainAtStopSignal?: boolean } = {},
): Runnable {
  let servers: Server[] = [];
  let shutdown: Promise<unknown> | undefined;
  const shut = () => shutdown ??= Promise.allSettled(servers.map((s) => s.shutdown()));
  return {
    name,
    start(manager) {
      try {
        servers = listen(manager);
      } catch (e) {
        throw new Error(`cannot listen: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
      }
    },
    ...(options.drainAtStopSignal ? { drain: () => void shut() } : {}),
    async stop() {
      await shut();
    },
  };
}

/** A loop that runs until its signal aborts, as a runnable; stop aborts it and waits for it. */
export function loopRunnable(name: string, run: (signal: AbortSignal) => Promise<void>): Runnable {
  const stop = new AbortController();
  let running: Promise<void> = Promise.resolve();
  return {
    name,
    start() {
      running = run(stop.signal);
    },
    async stop() {
      stop.abort();
      await running.catch(() => {});
    },
  };
}
