/**
 * The orphan sweep (`--gc-interval`) end to end: an object whose finalizer
 * a person removed by hand and that was then deleted leaves an entry; the
 * sweep deletes it within one interval. Entries with a foreign comment, of
 * another owner id, of a disabled kind, or retained are left alone.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually, metricSum, type OperatorProcess } from "../testbed/operator.ts";
import { INGRESS_IP, IngressRoutes } from "./policy_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import { waitEntries } from "../testbed/observe.ts";

const TAGS = ["kubernetes", "traefik", "ingress"];

bedTest({
  name: "orphan sweep: deletes our entries whose object is gone, and nothing else",
  traefik: true,
}, async ({ bed, ops, t }) => {
  let op: OperatorProcess | undefined;
  const ir = new IngressRoutes(bed.kube);
  const { hm, hosts } = bed;
  const ns = await bed.kube.createNamespace(uniqueName("gc"));
  const args = [`--default-ingress-ip=${INGRESS_IP}`, "--owner-id=a"];
  const start = async (...more: string[]) => op = await ops.start({ args: [...args, ...more] });

  await start();
  await ir.create(ns, "gone", ["orphan.home.arpa"]);
  await hm.create(ns, "gone-hm", { hostname: "orphan-hm.home.arpa", ip: "10.3.0.9" });
  await ir.create(ns, "stays", ["live.home.arpa"]);
  const [orphan] = await waitEntries(
    hosts,
    "orphan.home.arpa",
    "synced",
    (es) => es.length === 1,
  );
  const hmObj = await hm.waitSynced(ns, "gone-hm");
  const [live] = await waitEntries(hosts, "live.home.arpa", "synced", (es) => es.length === 1);
  await op!.stop();
  op = undefined;

  // While no operator runs: finalizers removed by hand, objects deleted.
  await ir.kube.mergePatchJson(ir.path(ns, "gone"), { metadata: { finalizers: null } });
  await ir.delete(ns, "gone");
  await hm.patch(ns, "gone-hm", { metadata: { finalizers: null } });
  await hm.delete(ns, "gone-hm");
  await ir.waitGone(ns, "gone");
  await hm.waitGone(ns, "gone-hm");

  const survivors = [
    await hosts.addHost({
      ipAddress: INGRESS_IP,
      hostname: "hand.home.arpa",
      comment: "added by hand",
      tags: [],
    }),
    await hosts.addHost({
      ipAddress: INGRESS_IP,
      hostname: "other-owner.home.arpa",
      comment: `k8s-ingress:${ns}/ghost`,
      tags: [...TAGS, "owner:b"],
    }),
    await hosts.addHost({
      ipAddress: INGRESS_IP,
      hostname: "untagged.home.arpa",
      comment: `k8s-ingress:${ns}/ghost`,
      tags: TAGS,
    }),
    // Gateway API sources are not enabled here: their entries are never swept.
    await hosts.addHost({
      ipAddress: INGRESS_IP,
      hostname: "route.home.arpa",
      comment: `k8s-gateway:${ns}/ghost`,
      tags: ["kubernetes", "gateway", "httproute", "owner:a"],
    }),
    await hosts.addHost({
      ipAddress: INGRESS_IP,
      hostname: "kept.home.arpa",
      comment: `k8s-ingress:${ns}/ghost`,
      tags: [...TAGS, "owner:a", "retained"],
    }),
  ];

  await start("--gc-interval=3s");

  await t.step(
    "the orphaned entries are gone after one interval, with a log line and the metric",
    async () => {
      await waitEntries(hosts, "orphan.home.arpa", "swept", (es) => es.length === 0, 20_000);
      await waitEntries(hosts, "orphan-hm.home.arpa", "swept", (es) => es.length === 0, 20_000);
      // The server shows a delete before the operator logs and counts it: wait for both.
      const deletedIds = () =>
        op!.logs().filter((l) => l.msg === "orphan entry deleted: its object no longer exists")
          .map((l) => l.hostId).sort();
      await eventually("a log line per orphan", () => deletedIds().length >= 2);
      assertEquals(deletedIds(), [orphan.id, hmObj.status!.hostId].sort());
      const m = await eventually("the orphans counted", async () => {
        const text = await op!.metrics();
        return metricSum(text, "router_hosts_orphans_deleted_total") >= 2 ? text : undefined;
      });
      assertEquals(
        metricSum(m, "router_hosts_orphans_deleted_total", `controller="ingressroute"`),
        1,
      );
      assertEquals(
        metricSum(m, "router_hosts_orphans_deleted_total", `controller="hostmapping"`),
        1,
      );
    },
  );

  await t.step(
    "a foreign comment, another owner id, an untagged entry, a disabled kind and a retained entry survive",
    async () => {
      const sweeps = () => op!.logs().filter((l) => l.msg === "orphan sweep done").length;
      const after = sweeps();
      await eventually("two more sweeps", () => sweeps() >= after + 2, 20_000);
      for (const e of survivors) assertEquals(await hosts.getHost(e.id), e, e.hostname);
      assertEquals(await hosts.getHost(live.id), live, "a live object's entry stays");
      assertOk(op!.logs().every((l) => l.level !== "error"), "no error logged");
    },
  );
});
