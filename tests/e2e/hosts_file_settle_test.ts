/**
 * The settle write end to end (docs/adr/0013-settle-write-after-overlapping-writes.md):
 * router-hosts regenerates its hosts file inside each write, unordered, so
 * overlapping writes can leave a committed name out of the file. On the
 * emulator the race is forced with `--hosts-file-jitter-ms`; the real
 * server has it by nature (rarely). The operator's one no-op UpdateHost
 * after a burst brings every name into the file; writes that never
 * overlap cost no such call.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { bedTest } from "../testbed/bed.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { grpcCalls, settleWrites, waitForHostsFile } from "../testbed/observe.ts";
import { ingressRoutes, ingressRouteSpec } from "./sources_fixture.ts";
import { INGRESS_IP } from "./policy_fixture.ts";

/** Long enough that overlapping writes of one route reorder most of the time. */
const JITTER_MS = 100;

bedTest({
  name: "hosts file after bursts of overlapping writes",
  traefik: true,
  hostsFileJitterMs: JITTER_MS,
}, async ({ bed, ops, t }) => {
  // The router's own entry, as on a real router: not ours, it carries the
  // settle write once every entry of ours is deleted.
  const router = await bed.hosts.addHost({ ipAddress: "192.168.1.1", hostname: "router.lan" });
  const op = await ops.start({ args: [`--default-ingress-ip=${INGRESS_IP}`] });
  const ns = await bed.kube.createNamespace(uniqueName("settle"));
  const ir = ingressRoutes(bed.kube);

  await t.step(
    "3 IngressRoutes of 8 hosts, one after another: every name reaches the hosts file, by a settle write after each burst",
    async () => {
      for (let r = 0; r < 3; r++) {
        const names = Array.from({ length: 8 }, (_, i) => `h${i}.r${r}.settle.lan`);
        const before = settleWrites(await op.metrics());
        await ir.create(ns, `r${r}`, ingressRouteSpec(...names));
        await ir.waitTracked(ns, `r${r}`, names);
        // Without the settle write a short file stays short: nothing writes again.
        await waitForHostsFile(
          bed.rh,
          `all 8 names of r${r}`,
          (lines) => names.every((n) => lines.some((l) => l.hostname === n)),
        );
        await eventually(
          `a settle write after r${r}'s burst`,
          async () => settleWrites(await op.metrics()) > before,
        );
      }
      const m = await op.metrics();
      assertEquals(
        (await op.scrape()).sum("router_hosts_settle_writes_total", { result: "failed" }),
        0,
      );
      assertOk(grpcCalls(m, "UpdateHost") >= settleWrites(m));
    },
  );

  await t.step(
    "deleting them all (overlapping DeleteHosts): no deleted name stays in the file; the router's entry carried the no-op unchanged",
    async () => {
      for (let r = 0; r < 3; r++) await ir.delete(ns, `r${r}`);
      for (let r = 0; r < 3; r++) await ir.waitGone(ns, `r${r}`);
      await waitForHostsFile(
        bed.rh,
        "no .settle.lan line, router.lan kept",
        (lines) =>
          !lines.some((l) => l.hostname.endsWith(".settle.lan")) &&
          lines.some((l) => l.hostname === "router.lan"),
      );
      assertEquals(await bed.hosts.getHost(router.id), router);
    },
  );
});

bedTest(
  { name: "writes that never overlap: no settle write", hostsFileJitterMs: JITTER_MS },
  async ({ bed, ops }) => {
    const op = await ops.start({ args: ["--max-concurrent-reconciles=1"] });
    const ns = await bed.kube.createNamespace(uniqueName("nosettle"));
    // One worker and one entry per object: every write waits for the one before.
    for (const [i, name] of ["one", "two", "three"].entries()) {
      await bed.hm.create(ns, name, {
        hostname: `${name}.nosettle.lan`,
        ip: `10.9.0.${i + 1}`,
      });
      await bed.hm.waitSynced(ns, name);
    }
    await bed.hm.patch(ns, "two", { spec: { ip: "10.9.0.20" } });
    await eventually(
      "two at its new IP",
      async () =>
        (await bed.hm.get(ns, "two")).status?.phase === "Synced" &&
        (await bed.hosts.findExact("10.9.0.20", "two.nosettle.lan")).length === 1,
    );
    await bed.hm.delete(ns, "one");
    await bed.hm.waitGone(ns, "one");
    await waitForHostsFile(
      bed.rh,
      "two at 10.9.0.20 and three, without one",
      (lines) =>
        lines.some((l) => l.hostname === "two.nosettle.lan" && l.ip === "10.9.0.20") &&
        lines.some((l) => l.hostname === "three.nosettle.lan") &&
        !lines.some((l) => l.hostname === "one.nosettle.lan"),
    );
    // Each write's own regeneration was the last: nothing to settle. A
    // settle is scheduled 100 ms after the last write; the hosts-file
    // wait above and these scrapes give it far longer than that.
    const m = await op.metrics();
    assertEquals(settleWrites(m), 0, "settle writes");
    assertEquals(m.includes("router_hosts_settle_writes_total{"), false, "no settle at all");
    assertEquals(grpcCalls(m, "AddHost"), 3);
    assertEquals(grpcCalls(m, "UpdateHost"), 1);
    assertEquals(grpcCalls(m, "DeleteHost"), 1);
  },
);
