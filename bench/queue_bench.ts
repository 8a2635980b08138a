/**
 * Micro-benchmarks of the work queue: the per-event cost of de-duplicating
 * adds and of a worker's get/done cycle (`deno bench bench/queue_bench.ts`).
 */
import { WorkQueue } from "../k8s/queue.ts";

const KEYS = Array.from({ length: 10_000 }, (_, i) => `ns-${i % 50}/object-${i}`);

Deno.bench("queue: add 10,000 distinct keys, then drain with get/done", async () => {
  const q = new WorkQueue();
  for (const k of KEYS) q.add(k);
  for (let i = 0; i < KEYS.length; i++) {
    const k = (await q.get())!;
    q.done(k);
  }
  q.shutDown();
});

Deno.bench("queue: 10,000 adds of 100 hot keys (de-duplicated), then drain", async () => {
  const q = new WorkQueue();
  for (let i = 0; i < 10_000; i++) q.add(KEYS[i % 100]);
  for (let i = 0; i < 100; i++) q.done((await q.get())!);
  q.shutDown();
});

Deno.bench("queue: addRateLimited + forget for 10,000 keys (backoff bookkeeping)", () => {
  const q = new WorkQueue();
  for (const k of KEYS) q.addRateLimited(k);
  for (const k of KEYS) q.forget(k);
  q.shutDown();
});
