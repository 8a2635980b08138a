/**
 * The process's stop signals: the first SIGTERM or SIGINT starts an orderly
 * shutdown, a second one exits at once.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";

/** A signal that aborts on the first stop signal; dispose removes the listeners. */
export interface StopSignals extends Disposable {
  readonly signal: AbortSignal;
}

/**
 * Listens for `signals` (default SIGTERM and SIGINT): the first aborts
 * `signal`, a second one exits the process with status 1.
 */
export function stopSignals(
  log: Logger,
  signals: Deno.Signal[] = ["SIGTERM", "SIGINT"],
  exit: (code: number) => void = Deno.exit,
): StopSignals {
  const stop = new AbortController();
  const handlers = signals.map((name) => {
    const handler = () => {
      if (stop.signal.aborted) {
        log.warn(`second ${name}: exiting at once`);
        exit(1);
        return;
      }
      log.info(`received ${name}`);
      stop.abort();
    };
    Deno.addSignalListener(name, handler);
    return { name, handler };
  });
  return {
    signal: stop.signal,
    [Symbol.dispose]() {
      for (const { name, handler } of handlers) Deno.removeSignalListener(name, handler);
    },
  };
}
