import { assertEquals, assertOk } from "../tests/assert.ts";
import { FakeClock } from "./clock.ts";
import { type QueueMetrics, WorkQueue } from "./queue.ts";

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function recordingMetrics() {
  const m = { adds: 0, retries: 0, depth: 0, queued: [] as number[], worked: [] as number[] };
  let probe: () => { unfinishedSeconds: number; longestSeconds: number } = () => ({
    unfinishedSeconds: 0,
    longestSeconds: 0,
  });
  const hooks: QueueMetrics = {
    depth: (n) => m.depth = n,
    added: () => m.adds++,
    queued: (s) => m.queued.push(s),
    worked: (s) => m.worked.push(s),
    retried: () => m.retries++,
    inFlight: (p) => probe = p,
  };
  return { m, hooks, probe: () => probe() };
}

Deno.test("add de-duplicates a key that is already queued", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add("a");
  q.add("b");
  q.add("a");
  assertEquals(q.len, 2);
  assertEquals(await q.get(), "a");
  assertEquals(await q.get(), "b");
  assertEquals(q.len, 0);
});

Deno.test("a key added while processing is handed out again only after done", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add("a");
  const first = await q.get();
  assertEquals(first, "a");
  q.add("a");
  q.add("a");
  assertEquals(q.len, 0, "not queued while a worker holds it");
  let second: string | undefined;
  q.get().then((k) => second = k);
  await settle();
  assertEquals(second, undefined, "a second worker must not get the key being processed");
  q.done("a");
  await settle();
  assertEquals(second, "a", "queued once again after done");
  q.done("a");
  assertEquals(q.len, 0);
});

Deno.test("concurrent workers never process one key at the same time", async () => {
  const q = new WorkQueue();
  const active = new Set<string>();
  let overlaps = 0;
  let processed = 0;
  const worker = async () => {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      if (active.has(key)) overlaps++;
      active.add(key);
      // Keep adding the key being processed to provoke a second worker.
      q.add(key);
      await new Promise((r) => setTimeout(r, Math.random() * 2));
      active.delete(key);
      processed++;
      q.done(key);
      if (processed > 200) q.shutDown();
    }
  };
  for (const k of ["x", "y", "z"]) q.add(k);
  await Promise.all(Array.from({ length: 8 }, worker));
  assertEquals(overlaps, 0);
  assertOk(processed > 200);
});

Deno.test("addRateLimited backs off 5 ms doubling per failure, capped at 1000 s", () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const delays = Array.from({ length: 5 }, () => q.addRateLimited("a"));
  assertEquals(delays, [5, 10, 20, 40, 80]);
  assertEquals(q.numRequeues("a"), 5);
  assertEquals(q.addRateLimited("b"), 5, "backoff is per key");
  for (let i = 0; i < 40; i++) q.addRateLimited("c");
  assertEquals(q.addRateLimited("c"), 1_000_000);
  q.shutDown();
});

Deno.test("forget resets a key's backoff", () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.addRateLimited("a");
  q.addRateLimited("a");
  q.forget("a");
  assertEquals(q.numRequeues("a"), 0);
  assertEquals(q.addRateLimited("a"), 5);
  q.shutDown();
});

Deno.test("addRateLimited queues the key only after its delay", () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addRateLimited("a");
  q.addRateLimited("a");
  // Two waits (5 ms, 10 ms): the earliest ready time wins.
  clock.advance(4);
  assertEquals(q.len, 0);
  clock.advance(1);
  assertEquals(q.len, 1);
  clock.advance(100);
  assertEquals(q.len, 1, "the later wait was superseded, not queued twice");
});

Deno.test("addAfter delays, keeps the earliest time, and ignores a later one", () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addAfter("a", 1000);
  q.addAfter("a", 300);
  q.addAfter("a", 2000);
  q.addAfter("b", 500);
  clock.advance(299);
  assertEquals(q.len, 0);
  clock.advance(1);
  assertEquals(q.len, 1);
  clock.advance(200);
  assertEquals(q.len, 2);
  clock.advance(5000);
  assertEquals(q.len, 2, "superseded timers do not add again");
  assertEquals(clock.pending, 0);
});

Deno.test("addAfter with a non-positive delay adds at once", () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.addAfter("a", 0);
  assertEquals(q.len, 1);
});

Deno.test("get waits for a key and resolves undefined after shutDown", async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const waiting = q.get();
  q.add("a");
  assertEquals(await waiting, "a");
  const blocked = q.get();
  q.shutDown();
  assertEquals(await blocked, undefined);
  q.add("b");
  assertEquals(await q.get(), undefined, "no work is handed out after shutDown");
});

Deno.test("shutDownWithDrain waits for keys being processed", async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add("a");
  await q.get();
  let drained: boolean | undefined;
  q.shutDownWithDrain(1000).then((d) => drained = d);
  await settle();
  assertEquals(drained, undefined);
  q.done("a");
  await settle();
  assertEquals(drained, true);
  assertEquals(clock.pending, 0, "the drain timer is cleared");
});

Deno.test("shutDownWithDrain gives up after its timeout", async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.add("a");
  await q.get();
  const result = q.shutDownWithDrain(1000);
  clock.advance(1000);
  assertEquals(await result, false);
  assertEquals(q.processing(), ["a"]);
});

Deno.test("shutDown cancels delayed keys", () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addAfter("a", 100);
  q.shutDown();
  assertEquals(clock.pending, 0);
  clock.advance(200);
  assertEquals(q.len, 0);
});

Deno.test("metrics hooks see adds, depth, latencies, retries and in-flight work", async () => {
  const clock = new FakeClock();
  const { m, hooks, probe } = recordingMetrics();
  const q = new WorkQueue({ clock, metrics: hooks });
  q.add("a");
  q.add("a");
  q.add("b");
  assertEquals(m.adds, 2, "a de-duplicated add is not counted");
  assertEquals(m.depth, 2);
  clock.advance(1500);
  await q.get();
  assertEquals(m.queued, [1.5]);
  assertEquals(m.depth, 1);
  clock.advance(2000);
  assertEquals(probe(), { unfinishedSeconds: 2, longestSeconds: 2 });
  q.done("a");
  assertEquals(m.worked, [2]);
  q.addRateLimited("a");
  assertEquals(m.retries, 1);
  q.shutDown();
});
