import { assertEquals } from "../../tests/assert.ts";
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import { EntryWakeups, notingWrites, type RepairCause, trackersIn, watchUnit } from "./live.ts";
import { ConflictBoard } from "./policy.ts";

function setup() {
  const board = new ConflictBoard();
  const causes: RepairCause[] = [];
  const woken: string[] = [];
  const wakeups = new EntryWakeups(board, (c) => causes.push(c));
  /** The caches: key → ids it tracks. */
  const ingress = new Map<string, string[]>();
  const hostmapping = new Map<string, string[]>();
  for (const [name, cache] of [["ingress", ingress], ["hostmapping", hostmapping]] as const) {
    wakeups.register(name, {
      wake: (key) => woken.push(`${name} ${key}`),
      tracking: (ids) =>
        trackersIn({ keys: () => [...cache.keys()], get: (k) => cache.get(k) }, ids, (v) => v),
    });
  }
  return { board, causes, woken, wakeups, ingress, hostmapping };
}

Deno.test("EntryWakeups: an edited or deleted entry wakes exactly the objects that track its id", () => {
  const t = setup();
  t.ingress.set("ns/a", ["id1", "id2"]);
  t.ingress.set("ns/b", ["id4"]);
  t.hostmapping.set("ns/m", ["id3"]);
  t.wakeups.changed([{ kind: "changed", id: "id2", hostname: "b.lan" }]);
  t.wakeups.changed([{ kind: "vanished", id: "id3", hostname: "m.lan" }]);
  t.wakeups.changed([{ kind: "changed", id: "other", hostname: "x.lan" }]);
  assertEquals(t.woken, ["ingress ns/a", "hostmapping ns/m"]);
  assertEquals(t.causes, ["edited", "deleted"]);
  // One snapshot, several changes: each tracker found in one pass.
  t.wakeups.changed([
    { kind: "vanished", id: "id1", hostname: "a.lan" },
    { kind: "changed", id: "id4", hostname: "d.lan" },
    { kind: "appeared", id: "id9", hostname: "n.lan" },
  ]);
  assertEquals(t.woken.slice(2), ["ingress ns/a", "ingress ns/b"]);
  assertEquals(t.causes.slice(2).sort(), ["deleted", "edited"]);
  // No longer tracked: no wake.
  t.ingress.set("ns/a", []);
  t.wakeups.changed([{ kind: "changed", id: "id1", hostname: "a.lan" }]);
  assertEquals(t.woken.length, 4);
});

Deno.test("EntryWakeups: a hostname let go (deleted or renamed away) wakes its conflict waiters of any controller", () => {
  const t = setup();
  t.board.wait("held.lan", "ingress/ns/x", () => t.woken.push("waiter x"));
  t.board.wait("other.lan", "hostmapping/ns/y", () => t.woken.push("waiter y"));
  t.wakeups.changed([{ kind: "appeared", id: "n", hostname: "held.lan" }]);
  assertEquals(t.woken, [], "a new holder frees nothing");
  t.wakeups.changed([{ kind: "vanished", id: "h", hostname: "HELD.lan" }]);
  t.wakeups.changed([{
    kind: "changed",
    id: "o",
    hostname: "renamed.lan",
    previousHostname: "other.lan",
  }]);
  assertEquals(t.woken, ["waiter x", "waiter y"]);
  assertEquals(t.causes, ["released", "released"]);
});

Deno.test("notingWrites: what add, update and delete produced is noted; reads and failures are not", async () => {
  const entry: HostEntry = {
    id: "i",
    ipAddress: "10.0.0.1",
    hostname: "a.lan",
    tags: [],
    aliases: [],
    version: "2",
  };
  const api: HostsPort = {
    address: "x",
    addHost: () => Promise.resolve({ ...entry, version: "1" }),
    getHost: () => Promise.resolve(entry),
    updateHost: () => Promise.resolve(entry),
    deleteHost: (id) => id === "gone" ? Promise.reject(new Error("not found")) : Promise.resolve(),
    findExact: () => Promise.resolve([entry]),
    searchHosts: () => Promise.resolve([entry]),
    listHosts: () => Promise.resolve([entry]),
  };
  const notes: string[] = [];
  const hosts = notingWrites(api, {
    noteWrite: (e) => notes.push(`write ${e.id}@${e.version}`),
    noteDelete: (id) => notes.push(`delete ${id}`),
  });
  await hosts.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  await hosts.updateHost({ id: "i", expectedVersion: "1", tags: ["t"] });
  await hosts.getHost("i");
  await hosts.searchHosts("a");
  await hosts.deleteHost("i");
  await hosts.deleteHost("gone").catch(() => {});
  assertEquals(notes, ["write i@1", "write i@2", "delete i"]);
});

Deno.test("watchUnit: runs the watch once on start, aborts it on stop", async () => {
  let runs = 0;
  let aborted = false;
  const unit = watchUnit({
    run: (signal) => {
      runs++;
      return new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve();
        })
      );
    },
  });
  assertEquals(unit.informers, []);
  void unit.controller.start(new AbortController().signal);
  void unit.controller.start(new AbortController().signal);
  assertEquals(await unit.controller.stop(1_000), true);
  assertEquals([runs, aborted], [1, true]);
});
