/**
 * The manager's order of things: runnables first and last, informers on
 * every replica, controllers only once started, a failed start that leaves
 * nothing running, and readiness. Leader election against a real API
 * server: tests/e2e/ha_test.ts; the process's signals and listeners:
 * tests/e2e/metrics_test.ts and tests/e2e/startup_errors_test.ts.
 */
import { Logger } from "../observability/log.ts";
import { assertEquals, assertMatch, assertRejects } from "../tests/assert.ts";
import { type InformerLike, Manager, type Unit } from "./manager.ts";
import type { Runnable } from "./runnable.ts";

const quiet = new Logger({ level: "error", sink: () => {} });

/** A unit whose informer and controller append what happens to `trail`. */
function unit(trail: string[], name: string): Unit & { synced: () => void } {
  let synced = false;
  let release!: () => void;
  const syncedOnce = new Promise<void>((r) => release = r);
  const informer: InformerLike = {
    async run(signal) {
      trail.push(`${name} informer runs`);
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      trail.push(`${name} informer stops`);
    },
    hasSynced: () => synced,
    async waitForSync() {
      await syncedOnce;
      return true;
    },
  };
  return {
    informers: [informer],
    controller: {
      start() {
        trail.push(`${name} controller starts`);
        return Promise.resolve();
      },
      stop() {
        trail.push(`${name} controller drains`);
        return Promise.resolve(true);
      },
    },
    synced: () => {
      synced = true;
      release();
    },
  };
}

function runnable(trail: string[], name: string, fail?: string, drains = false): Runnable {
  return {
    name,
    start(manager) {
      if (fail) throw new Error(fail);
      trail.push(`${name} starts (${manager.ready().reason})`);
    },
    ...(drains ? { drain: () => void trail.push(`${name} drains`) } : {}),
    stop() {
      trail.push(`${name} stops`);
      return Promise.resolve();
    },
  };
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  if (!done()) throw new Error("condition not reached");
}

Deno.test("runnables start before the informers and stop after the controllers drained, in reverse; a draining one drains at the stop signal", async () => {
  const trail: string[] = [];
  const u = unit(trail, "a");
  const manager = new Manager({
    log: quiet,
    units: [u],
    runnables: [runnable(trail, "probes"), runnable(trail, "webhook", undefined, true)],
  });
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await until(() => trail.includes("a informer runs"));
  assertEquals(manager.ready(), { ok: false, reason: "1 cache(s) not yet synced" });
  u.synced();
  await until(() => trail.includes("a controller starts"));
  assertEquals(manager.ready(), { ok: true, reason: "caches synced" });
  stop.abort();
  assertEquals(await run, 0);
  assertEquals(manager.ready(), { ok: false, reason: "shutting down" });
  assertEquals(trail, [
    "probes starts (starting)",
    "webhook starts (starting)",
    "a informer runs",
    "a controller starts",
    "webhook drains",
    "a controller drains",
    "a informer stops",
    "webhook stops",
    "probes stops",
  ]);
});

Deno.test("a runnable that cannot start: the ones started are stopped, nothing else runs", async () => {
  const trail: string[] = [];
  const manager = new Manager({
    log: quiet,
    units: [unit(trail, "a")],
    runnables: [
      runnable(trail, "probes"),
      runnable(trail, "webhook", "cannot listen: address in use"),
      runnable(trail, "rotation"),
    ],
  });
  const e = await assertRejects(() => manager.run(new AbortController().signal));
  assertMatch(e.message, /^cannot listen: address in use$/);
  assertEquals(trail, ["probes starts (starting)", "probes stops"]);
});

Deno.test("a manager without controllers serves its runnables, ready, until stopped", async () => {
  const trail: string[] = [];
  const manager = new Manager({ log: quiet, runnables: [runnable(trail, "webhook")] });
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await until(() => trail.length > 0);
  await until(() => manager.ready().ok);
  assertEquals(manager.ready(), { ok: true, reason: "serving (no controllers)" });
  stop.abort();
  assertEquals(await run, 0);
  assertEquals(trail, ["webhook starts (starting)", "webhook stops"]);
});
