/**
 * Live repair from router-hosts' WatchHosts stream (README "Live repair"):
 * with the periodic resync far beyond the test (1 h), a hand edit or hand
 * delete of one of our entries is repaired, a server restart mid-stream is
 * survived, and what changes on the server wakes only who tracks it. The
 * stream itself is checked against the server first, so the emulator and
 * the real server are held to the same contract.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { bedTest, openHostsClient } from "../testbed/bed.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { waitEntries, waitIdle } from "../testbed/observe.ts";
import type { WatchHostsMessage } from "../../proto/hosts_codec.ts";
import type { RouterHostsClient } from "../../grpc/client.ts";

const CALLS = "router_hosts_grpc_requests_total";
const WRITES = ["AddHost", "UpdateHost", "DeleteHost"];

/** Collects snapshots of one follow stream. */
function follow(hosts: RouterHostsClient) {
  const snapshots: { ids: Map<string, string>; count: number; changeId: string }[] = [];
  let current = new Map<string, string>();
  const call = hosts.watchHosts({
    message: (msg: WatchHostsMessage) => {
      if ("entry" in msg) current.set(msg.entry.id, msg.entry.version);
      else if ("complete" in msg) {
        snapshots.push({ ids: current, ...msg.complete });
        current = new Map();
      }
    },
    end: () => {},
  });
  return { snapshots, cancel: () => call.cancel() };
}

bedTest({
  name: "live repair: WatchHosts stream, hand edit and delete, restart, and only trackers woken",
}, async ({ bed, ops, t }) => {
  await t.step(
    "WatchHosts follow mode: a snapshot on connect and one after a write, change ids moving",
    async () => {
      const s = follow(bed.hosts);
      try {
        const first = await eventually("first snapshot", () => s.snapshots[0]);
        assertEquals(first.count, first.ids.size);
        assertEquals(first.changeId.length, 26);
        const added = await bed.hosts.addHost({ ipAddress: "10.9.0.1", hostname: "w.lan" });
        const after = await eventually(
          "a snapshot with the new entry",
          () => s.snapshots.find((x) => x.ids.get(added.id) === added.version),
        );
        assertEquals(after.count, first.count + 1);
        assertOk(after.changeId !== first.changeId, "the change id moved");
        await bed.hosts.deleteHost(added.id);
        await eventually("a snapshot without it", () => !s.snapshots.at(-1)!.ids.has(added.id));
      } finally {
        s.cancel();
      }
    },
  );

  const op = await ops.start({ args: ["--resync-period=1h"] });
  const ns = await bed.kube.createNamespace(uniqueName("live"));
  await bed.hm.create(ns, "edit", { hostname: "edit.live.lan", ip: "10.9.1.1" });
  await bed.hm.create(ns, "gone", { hostname: "gone.live.lan", ip: "10.9.1.2" });
  await bed.hm.waitSynced(ns, "edit");
  await bed.hm.waitSynced(ns, "gone");
  await eventually(
    "stream connected",
    async () => (await op.scrape()).value("router_hosts_watch_connected") === 1,
  );
  await waitIdle(op, "hostmapping");

  await t.step("a hand edit is put back without a resync", async () => {
    const [entry] = await waitEntries(bed.hosts, "edit.live.lan", "one", (es) => es.length === 1);
    await bed.hosts.updateHost({
      id: entry.id,
      expectedVersion: entry.version,
      ipAddress: "10.9.9.9",
    });
    await waitEntries(
      bed.hosts,
      "edit.live.lan",
      "IP restored",
      (es) => es.length === 1 && es[0].ipAddress === "10.9.1.1" && es[0].id === entry.id,
    );
    const m = await op.scrape();
    assertOk(m.sum("router_hosts_watch_repairs_total", { cause: "edited" }) >= 1);
  });

  await t.step("a hand delete is recreated without a resync", async () => {
    const [entry] = await waitEntries(
      bed.hosts,
      "gone.live.lan",
      "one",
      (es) => es.length === 1,
    );
    await bed.hosts.deleteHost(entry.id);
    const [back] = await waitEntries(
      bed.hosts,
      "gone.live.lan",
      "recreated",
      (es) => es.length === 1,
    );
    assertOk(back.id !== entry.id, "a new entry");
    await bed.hm.waitFor(
      ns,
      "gone",
      "status names the new id",
      (o) => o.status?.hostId === back.id,
    );
    const m = await op.scrape();
    assertOk(m.sum("router_hosts_watch_repairs_total", { cause: "deleted" }) >= 1);
  });

  await t.step(
    "a change to an entry nobody tracks wakes nobody and costs no call",
    async () => {
      await waitIdle(op, "hostmapping");
      const m0 = await op.scrape();
      const snapshots0 = m0.value("router_hosts_watch_snapshots_total");
      const foreign = await bed.hosts.addHost({
        ipAddress: "10.9.2.1",
        hostname: "foreign.live.lan",
      });
      await bed.hosts.updateHost({
        id: foreign.id,
        expectedVersion: foreign.version,
        comment: "by hand",
      });
      await bed.hosts.deleteHost(foreign.id);
      await eventually(
        "the three snapshots seen",
        async () =>
          (await op.scrape()).value("router_hosts_watch_snapshots_total") >= snapshots0 + 3,
      );
      await waitIdle(op, "hostmapping");
      const m1 = await op.scrape();
      for (const method of [...WRITES, "GetHost", "SearchHosts", "ListHosts"]) {
        assertEquals(m1.sum(CALLS, { method }), m0.sum(CALLS, { method }), `${method} calls`);
      }
      assertEquals(
        m1.sum("controller_runtime_reconcile_total", { controller: "hostmapping" }),
        m0.sum("controller_runtime_reconcile_total", { controller: "hostmapping" }),
        "reconciles",
      );
    },
  );

  await t.step("our own writes do not wake us again", async () => {
    await waitIdle(op, "hostmapping");
    const m0 = await op.scrape();
    await bed.hm.create(ns, "own", { hostname: "own.live.lan", ip: "10.9.1.3" });
    await bed.hm.waitSynced(ns, "own");
    await waitEntries(bed.hosts, "own.live.lan", "one", (es) => es.length === 1);
    await eventually(
      "a snapshot after our AddHost",
      async () =>
        (await op.scrape()).value("router_hosts_watch_snapshots_total") >
          m0.value("router_hosts_watch_snapshots_total"),
    );
    await waitIdle(op, "hostmapping");
    const m1 = await op.scrape();
    assertEquals(
      m1.sum("router_hosts_watch_repairs_total"),
      m0.sum("router_hosts_watch_repairs_total"),
      "no repair for our own write",
    );
  });

  await t.step("server restart mid-stream: reconnects and repairs what changed", async () => {
    const [entry] = await waitEntries(
      bed.hosts,
      "edit.live.lan",
      "one",
      (es) => es.length === 1,
    );
    await bed.rh.kill();
    await eventually(
      "stream down",
      async () => (await op.scrape()).value("router_hosts_watch_connected") === 0,
    );
    await bed.rh.start();
    const hosts = await openHostsClient(bed.rh);
    try {
      await hosts.deleteHost(entry.id);
      await eventually(
        "stream up again",
        async () => (await op.scrape()).value("router_hosts_watch_connected") === 1,
      );
      await waitEntries(
        hosts,
        "edit.live.lan",
        "recreated after the restart",
        (es) => es.length === 1 && es[0].id !== entry.id,
      );
    } finally {
      hosts.close();
    }
  });

  await t.step(
    "clean server restart (GOAWAY): the operator ends its stream at once and reconnects",
    async () => {
      await eventually(
        "stream up",
        async () => (await op.scrape()).value("router_hosts_watch_connected") === 1,
      );
      const seen = op.logs().length;
      await bed.rh.restart();
      await eventually(
        "stream up after the restart",
        async () => (await op.scrape()).value("router_hosts_watch_connected") === 1,
      );
      const ended = op.logs().slice(seen).filter((l) =>
        l.msg === "router-hosts WatchHosts stream ended; reconnecting"
      );
      assertOk(ended.length >= 1, "the stream ended");
      assertOk(
        /GOAWAY/.test(String(ended[0].error)),
        `ended by the server's GOAWAY, not by the dropped connection: ${ended[0].error}`,
      );
      assertEquals(op.process.exited, false, "the operator survived the GOAWAY");
    },
  );
});
