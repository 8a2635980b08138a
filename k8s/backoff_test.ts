import { assertEquals, assertOk } from "../tests/assert.ts";
import { Backoff } from "./backoff.ts";
import { FakeClock } from "./clock.ts";

Deno.test("backoff doubles from 0.8 s and stops growing at 30 s", () => {
  const b = new Backoff({ clock: new FakeClock(), random: () => 0 });
  const delays = Array.from({ length: 8 }, () => b.next());
  assertEquals(delays, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
});

Deno.test("jitter shortens a delay by at most 20 % and never exceeds the cap", () => {
  const low = new Backoff({ clock: new FakeClock(), random: () => 0.999999 });
  const d = low.next();
  assertOk(d > 640 && d <= 800, `${d}`);
  const capped = new Backoff({ clock: new FakeClock(), random: Math.random });
  for (let i = 0; i < 50; i++) assertOk(capped.next() <= 30_000);
});

Deno.test("backoff starts over after 2 minutes without failure", () => {
  const clock = new FakeClock();
  const b = new Backoff({ clock, random: () => 0 });
  b.next();
  b.next();
  clock.advance(120_000);
  assertEquals(b.next(), 3200, "2 minutes exactly is not yet healthy long enough");
  clock.advance(120_001);
  assertEquals(b.next(), 800);
});

Deno.test("reset forgets the failures", () => {
  const b = new Backoff({ clock: new FakeClock(), random: () => 0 });
  b.next();
  b.next();
  b.reset();
  assertEquals(b.next(), 800);
});
