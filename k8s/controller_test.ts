import { Registry } from "prom-client";
import { Logger } from "../observability/log.ts";
import { Metrics } from "../observability/metrics.ts";
import { assertEquals, assertMatch, assertOk } from "../tests/assert.ts";
import { FakeClock } from "./clock.ts";
import { Controller, type ControllerOptions, type Outcome, TerminalError } from "./controller.ts";

const quiet = new Logger({ level: "error", sink: () => {} });

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function setup(overrides: Partial<ControllerOptions> & Pick<ControllerOptions, "reconcile">) {
  const metrics = new Metrics(new Registry());
  const controller = new Controller({
    name: "test",
    workers: 1,
    log: quiet,
    metrics,
    keys: () => [],
    ...overrides,
  });
  return { controller, metrics };
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string>) {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  const value = metric.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l)
  );
  return value?.value;
}

/** A promise with its resolve function, to hold a reconcile open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => open = r);
  return { promise, open };
}

Deno.test("no more reconciles run at once than there are workers", async () => {
  let running = 0;
  let peak = 0;
  const done: string[] = [];
  const { controller } = setup({
    workers: 2,
    reconcile: async (key) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      done.push(key);
      return {};
    },
  });
  const ctl = new AbortController();
  const finished = controller.start(ctl.signal);
  for (const k of ["a", "b", "c", "d", "e", "f"]) controller.queue.add(k);
  while (done.length < 6) await new Promise((r) => setTimeout(r, 5));
  assertEquals(peak, 2);
  assertEquals(await controller.stop(1000), true);
  await finished;
});

Deno.test("one key is never reconciled by two workers at once", async () => {
  let overlaps = 0;
  let calls = 0;
  const active = new Set<string>();
  const { controller } = setup({
    workers: 4,
    reconcile: async (key) => {
      if (active.has(key)) overlaps++;
      active.add(key);
      calls++;
      controller.queue.add(key); // an event for the same object arrives meanwhile
      await new Promise((r) => setTimeout(r, 1));
      active.delete(key);
      return {};
    },
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("a");
  controller.queue.add("b");
  while (calls < 50) await new Promise((r) => setTimeout(r, 2));
  await controller.stop(1000);
  await finished;
  assertEquals(overlaps, 0);
});

Deno.test("an error is retried with the key's growing backoff and counted", async () => {
  const clock = new FakeClock();
  let calls = 0;
  const { controller, metrics } = setup({
    clock,
    reconcile: () => {
      calls++;
      return calls <= 3
        ? Promise.reject(new Error("router-hosts unavailable"))
        : Promise.resolve({});
    },
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("ns/a");
  await settle();
  assertEquals(calls, 1);
  clock.advance(4);
  await settle();
  assertEquals(calls, 1, "first retry only after 5 ms");
  clock.advance(1);
  await settle();
  assertEquals(calls, 2);
  clock.advance(9);
  await settle();
  assertEquals(calls, 2, "second retry only after 10 ms");
  clock.advance(1);
  await settle();
  assertEquals(calls, 3);
  clock.advance(20);
  await settle();
  assertEquals(calls, 4);
  assertEquals(controller.queue.numRequeues("ns/a"), 0, "success forgets the failures");
  assertEquals(
    await counter(metrics, "controller_runtime_reconcile_total", { result: "error" }),
    3,
  );
  assertEquals(
    await counter(metrics, "controller_runtime_reconcile_total", { result: "success" }),
    1,
  );
  assertEquals(await counter(metrics, "controller_runtime_reconcile_errors_total", {}), 3);
  await controller.stop(0);
  await finished;
});

Deno.test("a TerminalError is counted and not retried", async () => {
  const clock = new FakeClock();
  let calls = 0;
  const { controller, metrics } = setup({
    clock,
    reconcile: () => {
      calls++;
      return Promise.reject(new TerminalError("hostname is not valid"));
    },
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("ns/a");
  await settle();
  clock.advance(10 * 60_000);
  await settle();
  assertEquals(calls, 1);
  assertEquals(
    await counter(metrics, "controller_runtime_terminal_reconcile_errors_total", {}),
    1,
  );
  assertEquals(await counter(metrics, "controller_runtime_reconcile_errors_total", {}), 1);
  await controller.stop(0);
  await finished;
});

Deno.test("requeueAfterMs reconciles again after that delay", async () => {
  const clock = new FakeClock();
  let calls = 0;
  const { controller, metrics } = setup({
    clock,
    reconcile: (): Promise<Outcome> => {
      calls++;
      return Promise.resolve(calls === 1 ? { requeueAfterMs: 1000 } : {});
    },
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("a");
  await settle();
  clock.advance(999);
  await settle();
  assertEquals(calls, 1);
  clock.advance(1);
  await settle();
  assertEquals(calls, 2);
  assertEquals(
    await counter(metrics, "controller_runtime_reconcile_total", { result: "requeue_after" }),
    1,
  );
  await controller.stop(0);
  await finished;
});

Deno.test("resync enqueues every key each period", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const { controller } = setup({
    clock,
    random: () => 0,
    resyncPeriodMs: 60_000,
    keys: () => ["a", "b", "c"],
    reconcile: (key) => {
      seen.push(key);
      return Promise.resolve({});
    },
  });
  const finished = controller.start(new AbortController().signal);
  await settle();
  assertEquals(seen.toSorted(), ["a", "b", "c"], "start queues every key");
  clock.advance(59_999);
  await settle();
  assertEquals(seen.length, 3);
  clock.advance(1);
  await settle();
  assertEquals(seen.slice(3).sort(), ["a", "b", "c"]);
  clock.advance(60_000);
  await settle();
  assertEquals(seen.length, 9);
  await controller.stop(0);
  await finished;
  assertEquals(clock.pending, 0, "the resync timer is cleared on stop");
});

Deno.test("before start the queue takes nothing (a standby's stays empty); start queues every key", async () => {
  const seen: string[] = [];
  let keys = ["ns/a"];
  const { controller, metrics } = setup({
    keys: () => keys,
    reconcile: (key) => {
      seen.push(key);
      return Promise.resolve({});
    },
  });
  controller.queue.add("ns/a");
  controller.queue.addAfter("ns/b", 10);
  keys = ["ns/a", "ns/b"];
  assertEquals(controller.queue.len, 0);
  assertEquals(await counter(metrics, "workqueue_depth", { name: "test" }), 0);
  assertEquals(await counter(metrics, "workqueue_adds_total", { name: "test" }), 0);
  const finished = controller.start(new AbortController().signal);
  await settle();
  assertEquals(seen.toSorted(), ["ns/a", "ns/b"]);
  assertEquals(await counter(metrics, "workqueue_adds_total", { name: "test" }), 2);
  await controller.stop(0);
  await finished;
});

Deno.test("stop lets an in-flight reconcile finish and takes no new work", async () => {
  const hold = gate();
  const started: string[] = [];
  const { controller } = setup({
    reconcile: async (key) => {
      started.push(key);
      await hold.promise;
      return {};
    },
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("a");
  await settle();
  controller.queue.add("b");
  const stopped = controller.stop(5_000);
  setTimeout(hold.open, 20);
  assertEquals(await stopped, true);
  await finished;
  assertEquals(started, ["a"]);
});

Deno.test("stop aborts a reconcile that outlives the drain timeout", async () => {
  let aborted = false;
  const { controller } = setup({
    reconcile: (_key, signal) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve({});
        });
      }),
  });
  const finished = controller.start(new AbortController().signal);
  controller.queue.add("a");
  await settle();
  assertEquals(await controller.stop(20), false);
  await finished;
  assertOk(aborted);
});

Deno.test("aborting start's signal stops the controller", async () => {
  const { controller } = setup({ reconcile: () => Promise.resolve({}) });
  const ctl = new AbortController();
  const finished = controller.start(ctl.signal);
  ctl.abort();
  await finished;
  assertOk(controller.queue.shuttingDown);
});

Deno.test("controller metrics exist at zero before the first reconcile", async () => {
  const { metrics } = setup({
    name: "hostmapping",
    workers: 3,
    reconcile: () => Promise.resolve({}),
  });
  const text = await metrics.registry.metrics();
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    assertMatch(
      text,
      new RegExp(
        `controller_runtime_reconcile_total\\{controller="hostmapping",result="${result}"\\} 0`,
      ),
    );
  }
  assertMatch(text, /controller_runtime_max_concurrent_reconciles\{controller="hostmapping"\} 3/);
  assertMatch(text, /workqueue_depth\{name="hostmapping",controller="hostmapping",priority=""\} 0/);
});
