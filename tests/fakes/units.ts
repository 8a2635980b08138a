/**
 * Runs controller units (informers and controllers, as the manager would)
 * on the one fake API server for a test, and stops them afterwards.
 *
 * @module
 */
import type { Unit } from "../../k8s/manager.ts";

/** Starts `units`, runs `fn`, then stops everything (also when `fn` throws). */
export async function withUnits(units: readonly Unit[], fn: () => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const informers = [...new Set(units.flatMap((u) => u.informers))];
  const running = informers.map((i) => i.run(stop.signal));
  const controllers: Promise<void>[] = [];
  try {
    for (const u of units) {
      for (const i of u.informers) await i.waitForSync(stop.signal);
      controllers.push(u.controller.start(stop.signal));
    }
    await fn();
  } finally {
    stop.abort();
    await Promise.all([...running, ...controllers]);
  }
}
