/**
 * The HostMapping controller end to end: the operator runs as its own
 * process against a real kube-apiserver and the router-hosts server, and is
 * observed only from outside.
 */
import { isDeepStrictEqual } from "node:util";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually, metricSum } from "../testbed/operator.ts";
import { bedTest, FINALIZER } from "../testbed/bed.ts";
import { waitForHostsFile } from "../testbed/observe.ts";

bedTest({ name: "HostMapping controller" }, async ({ bed, ops, t }) => {
  const op = await ops.start();
  const { hm, hosts, rh } = bed;
  const ns = await bed.kube.createNamespace(uniqueName("hm"));
  let entryId = "";

  await t.step("create → Synced, entry on the server, hosts-file line, finalizer", async () => {
    await hm.create(ns, "nas", {
      hostname: "nas.lan",
      ip: "10.1.0.5",
      aliases: ["files.lan"],
      tags: ["storage"],
    });
    const o = await hm.waitSynced(ns, "nas");
    assertOk(o.metadata.finalizers?.includes(FINALIZER));
    const entry = await hosts.getHost(o.status!.hostId!);
    assertEquals(entry.hostname, "nas.lan");
    assertEquals(entry.ipAddress, "10.1.0.5");
    assertEquals(entry.comment, `k8s:${ns}/nas`);
    assertEquals(entry.aliases, ["files.lan"]);
    assertEquals(entry.tags, ["storage"]);
    assertEquals(o.status!.hostVersion, entry.version);
    assertOk(o.status!.lastSyncTime);
    const line = {
      ip: "10.1.0.5",
      hostname: "nas.lan",
      aliases: ["files.lan"],
      comment: `k8s:${ns}/nas`,
      tags: ["storage"],
    };
    await waitForHostsFile(
      rh,
      `the line ${JSON.stringify(line)}`,
      (lines) => lines.some((l) => isDeepStrictEqual(l, line)),
    );
    entryId = entry.id;
  });

  await t.step("edit ip, aliases, tags → the server follows", async () => {
    await hm.patch(ns, "nas", {
      spec: { ip: "10.1.0.6", aliases: ["files.lan", "backup.lan"], tags: ["storage", "nas"] },
    });
    const o = await hm.waitFor(
      ns,
      "nas",
      "synced to 10.1.0.6",
      (x) =>
        x.status?.phase === "Synced" &&
        x.status.conditions?.[0]?.observedGeneration === x.metadata.generation,
    );
    const e = await hosts.getHost(o.status!.hostId!);
    assertEquals(e.id, entryId, "updated in place, not recreated");
    assertEquals(e.ipAddress, "10.1.0.6");
    assertEquals(e.aliases.toSorted(), ["backup.lan", "files.lan"]);
    assertEquals(e.tags.toSorted(), ["nas", "storage"]);
    assertEquals(o.status!.hostVersion, e.version);
  });

  await t.step("clearing aliases and tags clears them on the server", async () => {
    await hm.patch(ns, "nas", { spec: { aliases: [], tags: null } });
    await eventually("aliases and tags cleared", async () => {
      const e = await hosts.getHost(entryId);
      return e.aliases.length === 0 && e.tags.length === 0;
    });
    await waitForHostsFile(
      rh,
      "nas.lan without aliases and tags",
      (lines) =>
        lines.some((l) =>
          l.hostname === "nas.lan" && l.aliases.length === 0 && l.tags.length === 0
        ),
    );
  });

  await t.step("delete → entry gone, object gone", async () => {
    await hm.delete(ns, "nas");
    await hm.waitGone(ns, "nas");
    assertEquals(await hosts.findExact("10.1.0.6", "nas.lan"), []);
    await waitForHostsFile(
      rh,
      "no line for nas.lan",
      (lines) => !lines.some((l) => l.hostname === "nas.lan"),
    );
  });

  await t.step(
    "deleted out of band on the server → recreated with a Recreated event",
    async () => {
      await hm.create(ns, "printer", { hostname: "printer.lan", ip: "10.1.0.7" });
      const o = await hm.waitSynced(ns, "printer");
      await hosts.deleteHost(o.status!.hostId!);
      // Any change to the object wakes the controller (the periodic resync would too).
      await hm.patch(ns, "printer", { metadata: { annotations: { touch: "1" } } });
      const o2 = await hm.waitFor(
        ns,
        "printer",
        "a new host id",
        (x) => x.status?.phase === "Synced" && x.status.hostId !== o.status!.hostId,
      );
      const e = await hosts.getHost(o2.status!.hostId!);
      assertEquals(e.hostname, "printer.lan");
      const events = await eventually("a Recreated event", async () => {
        const list = await bed.kube.getJson<{ items: Array<{ reason: string; note: string }> }>(
          `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
        );
        return list.items.find((ev) => ev.reason === "Recreated");
      });
      assertMatch(events.note, /recreated as/);
    },
  );

  await t.step("an entry with our comment is adopted, not duplicated", async () => {
    const pre = await hosts.addHost({
      ipAddress: "10.1.0.8",
      hostname: "tv.lan",
      comment: `k8s:${ns}/tv`,
    });
    await hm.create(ns, "tv", { hostname: "tv.lan", ip: "10.1.0.8", tags: ["media"] });
    const o = await hm.waitSynced(ns, "tv");
    assertEquals(o.status!.hostId, pre.id);
    assertEquals((await hosts.getHost(pre.id)).tags, ["media"]);
    assertEquals((await hosts.findExact("10.1.0.8", "tv.lan")).length, 1);
  });

  await t.step("an entry with a foreign comment is refused and left untouched", async () => {
    const foreign = await hosts.addHost({
      ipAddress: "10.1.0.9",
      hostname: "router.lan",
      comment: "added by hand",
      tags: ["infra"],
    });
    await hm.create(ns, "router", { hostname: "router.lan", ip: "10.1.0.9" });
    const o = await hm.waitFor(ns, "router", "phase Error", (x) => x.status?.phase === "Error");
    assertMatch(o.status!.message!, /not ours/);
    const cond = o.status!.conditions!.find((c) => c.type === "Synced")!;
    assertEquals([cond.status, cond.reason], ["False", "AdoptionRefused"]);
    const after = await hosts.getHost(foreign.id);
    assertEquals(after, foreign);
    await eventually("an AdoptionRefused warning event", async () => {
      const list = await bed.kube.getJson<{ items: Array<{ reason: string; type: string }> }>(
        `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      );
      return list.items.some((ev) => ev.reason === "AdoptionRefused" && ev.type === "Warning");
    });
    // Deleting the refused object must not delete the foreign entry.
    await hm.delete(ns, "router");
    await hm.waitGone(ns, "router");
    assertEquals(await hosts.getHost(foreign.id), foreign);
  });

  await t.step(
    "a spec the server rejects → phase Error with the server's message, no hot loop",
    async () => {
      // The CRD accepts aliases that differ only in case; the server refuses them as repeats.
      await hm.create(ns, "dup", {
        hostname: "dup.lan",
        ip: "10.1.0.10",
        aliases: ["media.lan", "MEDIA.lan"],
      });
      const o = await hm.waitFor(ns, "dup", "phase Error", (x) => x.status?.phase === "Error");
      assertMatch(o.status!.message!, /INVALID_ARGUMENT/);
      assertMatch(o.status!.message!, /alias/);
      const cond = o.status!.conditions!.find((c) => c.type === "Synced")!;
      assertEquals(cond.reason, "InvalidSpec");
      const before = metricSum(
        await op.metrics(),
        "router_hosts_grpc_requests_total",
        'method="AddHost"',
      );
      const rv = o.metadata.resourceVersion;
      await new Promise((r) => setTimeout(r, 3_000));
      assertEquals(
        metricSum(await op.metrics(), "router_hosts_grpc_requests_total", 'method="AddHost"'),
        before,
        "no retries of a rejected spec",
      );
      assertEquals(
        (await hm.get(ns, "dup")).metadata.resourceVersion,
        rv,
        "no status rewrites",
      );
      // Fixing the spec recovers.
      await hm.patch(ns, "dup", { spec: { aliases: [] } });
      await hm.waitSynced(ns, "dup");
    },
  );

  await t.step(
    "logs are JSON lines with time, level, msg and controller; no key material",
    () => {
      const lines = op.logs();
      assertOk(lines.length > 10);
      for (const l of lines) {
        assertOk(
          typeof l.time === "string" && typeof l.level === "string" &&
            typeof l.msg === "string",
        );
      }
      assertOk(lines.some((l) => l.controller === "hostmapping" && typeof l.key === "string"));
      const raw = Deno.readTextFileSync(op.logPath);
      assertEquals(raw.includes("PRIVATE KEY"), false);
      assertEquals(raw.includes("BEGIN CERTIFICATE"), false);
    },
  );
});
