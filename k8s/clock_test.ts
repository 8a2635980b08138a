import { assertEquals } from "../tests/assert.ts";
import { FakeClock, sleep } from "./clock.ts";

Deno.test("FakeClock fires due timers in time order, with the clock at each one's time, and timers they set", () => {
  const clock = new FakeClock(100);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => {
    fired.push(`a@${clock.now()}`);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 1);
  clock.clearTimeout(cancelled);
  clock.advance(15);
  assertEquals([fired, clock.now(), clock.pending], [["a@110", "c@115"], 115, 1]);
  clock.advance(100);
  assertEquals([fired, clock.now(), clock.pending], [["a@110", "c@115", "b@120"], 215, 0]);
});

Deno.test("sleep resolves when its time comes or at once when its signal aborts, leaving no timer", async () => {
  const clock = new FakeClock();
  let woke = false;
  const nap = sleep(clock, 50).then(() => woke = true);
  clock.advance(49);
  await Promise.resolve();
  assertEquals(woke, false);
  clock.advance(1);
  await nap;
  assertEquals(woke, true);

  const stop = new AbortController();
  const interrupted = sleep(clock, 1_000, stop.signal);
  stop.abort();
  await interrupted;
  assertEquals(clock.pending, 0);
});
