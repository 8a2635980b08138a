import { Logger } from "../observability/log.ts";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { stopSignals } from "./signals.ts";

Deno.test("the first stop signal aborts; a second one exits at once with status 1", async () => {
  const lines: string[] = [];
  const exits: number[] = [];
  const log = new Logger({ sink: (l) => lines.push(JSON.parse(l).msg) });
  using stop = stopSignals(log, ["SIGUSR1"], (code) => exits.push(code));
  // Signal listeners do not keep the event loop alive: wait with timers.
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  };
  Deno.kill(Deno.pid, "SIGUSR1");
  await until(() => stop.signal.aborted);
  assertOk(stop.signal.aborted);
  assertEquals(exits, []);
  Deno.kill(Deno.pid, "SIGUSR1");
  await until(() => exits.length > 0);
  assertEquals(exits, [1]);
  assertEquals(lines, ["received SIGUSR1", "second SIGUSR1: exiting at once"]);
});
