import { EventEmitter } from "node:events";
import { assertEquals } from "../../assert.ts";
import { ChangeNotifier, watchHostsHandler } from "./watch.ts";

Deno.test("ChangeNotifier: a change before the wait is not lost; one wait takes any number of changes once", async () => {
  const n = new ChangeNotifier();
  const seen = n.generation;
  n.notify();
  n.notify();
  await n.changedSince(seen); // resolves at once
  const now = n.generation;
  let woken = 0;
  const wait = n.changedSince(now).then(() => woken++);
  assertEquals(woken, 0);
  n.notify();
  await wait;
  assertEquals(woken, 1);
});

/** A duplex call as grpc-js hands the handler: messages written, flow control by `full`. */
class FakeCall extends EventEmitter {
  written: unknown[] = [];
  full = false;
  ended = false;
  getPeer() {
    return "test";
  }
  write(msg: unknown): boolean {
    this.written.push(msg);
    return !this.full;
  }
  end() {
    this.ended = true;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function serve(entries: string[], changes: ChangeNotifier) {
  const call = new FakeCall();
  const handler = watchHostsHandler(
    { changeId: () => String(entries.length).padStart(26, "0"), list: () => [...entries] },
    changes,
    () => {},
  );
  // deno-lint-ignore no-explicit-any
  handler(call as any);
  return call;
}

const completes = (call: FakeCall) =>
  call.written.filter((m) => "complete" in (m as object)) as {
    complete: { count: number; changeId: string };
  }[];

Deno.test("WatchHosts (emulator): one-shot sends one snapshot and ends", async () => {
  const call = serve(["a", "b"], new ChangeNotifier());
  call.emit("data", { follow: false });
  await tick();
  assertEquals(call.written.length, 3);
  assertEquals(completes(call)[0].complete.count, 2);
  assertEquals(call.ended, true);
});

Deno.test("WatchHosts (emulator): follow sends a snapshot on connect and one per change, coalescing changes made while it waits on the network", async () => {
  const entries = ["a"];
  const changes = new ChangeNotifier();
  const call = serve(entries, changes);
  call.emit("data", { follow: true });
  await tick();
  assertEquals(completes(call).map((c) => c.complete.count), [1]);
  entries.push("b");
  changes.notify();
  await tick();
  assertEquals(completes(call).map((c) => c.complete.count), [1, 2]);

  // The client stops reading: the next snapshot stalls on flow control, and
  // three changes made meanwhile give one more snapshot, not three.
  call.full = true;
  entries.push("c");
  changes.notify();
  await tick();
  entries.push("d");
  changes.notify();
  entries.push("e");
  changes.notify();
  call.full = false;
  call.emit("drain");
  await tick();
  await tick();
  assertEquals(completes(call).map((c) => c.complete.count), [1, 2, 3, 5]);
  assertEquals(completes(call).at(-1)!.complete.changeId, "5".padStart(26, "0"));

  // A client that half-closes ends the stream with OK; later changes send nothing.
  call.emit("end");
  changes.notify();
  await tick();
  assertEquals(call.ended, true);
  assertEquals(completes(call).length, 4);
});
