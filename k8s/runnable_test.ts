import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import { loopRunnable, serverRunnable } from "./runnable.ts";

const status = { ready: () => ({ ok: true, reason: "test" }) };

Deno.test("serverRunnable: a bind failure is 'cannot listen: <reason>'; stop shuts every server down", async () => {
  const failing = serverRunnable("probes", () => {
    throw new Error("Address already in use (os error 98)");
  });
  const e = await assertRejects(async () => await failing.start(status));
  assertMatch(e.message, /^cannot listen: Address already in use \(os error 98\)$/);

  const shut: string[] = [];
  let seen: string | undefined;
  const ok = serverRunnable("probes", (manager) => {
    seen = manager.ready().reason;
    return ["metrics", "probes"].map((n) => ({
      shutdown: () => {
        shut.push(n);
        return Promise.resolve();
      },
    }));
  });
  await ok.start(status);
  assertEquals(seen, "test", "the listener sees the manager's readiness");
  await ok.stop();
  assertEquals(shut, ["metrics", "probes"]);
});

Deno.test("serverRunnable with drainAtStopSignal: drain shuts the servers down, stop waits for that, once", async () => {
  let shutdowns = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => finish = r);
  const server = serverRunnable("webhook", () => [{
    shutdown: () => {
      shutdowns++;
      return finished;
    },
  }], { drainAtStopSignal: true });
  await server.start(status);
  server.drain?.();
  assertEquals(shutdowns, 1);
  let stopped = false;
  const stopping = server.stop().then(() => stopped = true);
  await Promise.resolve();
  assertOk(!stopped, "stop waits for the drain");
  finish();
  await stopping;
  assertEquals(shutdowns, 1);
  assertEquals(serverRunnable("probes", () => []).drain, undefined, "others serve to the end");
});

Deno.test("loopRunnable: stop aborts the loop's signal and waits for the loop to end", async () => {
  let ended = false;
  const loop = loopRunnable("rotation", async (signal) => {
    await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    await Promise.resolve();
    ended = true;
  });
  await loop.start(status);
  assertOk(!ended);
  await loop.stop();
  assertOk(ended);
});
