/**
 * Ownership end to end: two operators (owner ids `a` and `b`), each with its
 * own kube-apiserver, share one router-hosts server. Both clusters hold a
 * HostMapping and an IngressRoute for the same hostname.
 */
import { bedTest, HostMappings, withOperators } from "../testbed/bed.ts";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { installCrds, type KubeTestbed, startKube, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { INGRESS_IP, IngressRoutes } from "./policy_fixture.ts";
import { waitEntries, waitEvent, waitIdle } from "../testbed/observe.ts";

const SHARED = "shared.home.arpa";

bedTest({
  name: "ownership: two operators with owner ids a and b against one router-hosts server",
  traefik: true,
}, async ({ bed, t }) => {
  // A second cluster: the same server, another operator's objects.
  const kubeB = await startKube();
  try {
    await installCrds(kubeB, "router-hosts", "traefik");
    await withOperators(bed, async (ops) => {
      const start = (kube: KubeTestbed, owner: string) =>
        ops.start({
          kubeconfigPath: kube.kubeconfigPath,
          name: `operator-${owner}`,
          args: [`--default-ingress-ip=${INGRESS_IP}`, `--owner-id=${owner}`],
        });
      const ns = uniqueName("own");
      const clusters = {
        a: { kube: bed.kube, hm: bed.hm, ir: new IngressRoutes(bed.kube) },
        b: { kube: kubeB, hm: new HostMappings(kubeB), ir: new IngressRoutes(kubeB) },
      };
      for (const c of Object.values(clusters)) {
        await c.kube.createNamespace(ns);
        await c.hm.create(ns, "shared", { hostname: SHARED, ip: INGRESS_IP });
        await c.ir.create(ns, "shared", [SHARED]);
      }
      await clusters.b.hm.create(ns, "b-only", { hostname: "b-only.home.arpa", ip: INGRESS_IP });

      const opA = await start(bed.kube, "a");
      const [held] = await waitEntries(
        bed.hosts,
        SHARED,
        "written by a",
        (es) => es.length === 1 && es[0].tags.includes("owner:a"),
      );
      await waitIdle(opA, "hostmapping");
      await waitIdle(opA, "ingressroute");

      await t.step(
        "exactly one entry per (ip, hostname); the other operator reports a conflict and never edits it",
        async () => {
          const opB = await start(kubeB, "b");
          const [bOnly] = await waitEntries(
            bed.hosts,
            "b-only.home.arpa",
            "written by b",
            (es) => es.length === 1,
          );
          assertEquals(bOnly.tags, ["owner:b"]);
          const hmB = await clusters.b.hm.waitFor(
            ns,
            "shared",
            "HostnameConflict in status",
            (o) => o.status?.conditions?.some((c) => c.reason === "HostnameConflict") === true,
          );
          assertMatch(hmB.status!.message!, /owner:a/);
          await waitEvent(kubeB, ns, { name: "shared" }, "HostnameConflict");
          await eventually("b's IngressRoute reports the conflict", async () => {
            const m = await opB.metrics();
            return /router_hosts_hostname_conflicts\{controller="ingressroute"\} 1/.test(m) &&
              /router_hosts_hostname_conflicts\{controller="hostmapping"\} 1/.test(m);
          });
          await waitIdle(opB, "ingressroute");
          await waitIdle(opB, "hostmapping");
          const now = await waitEntries(bed.hosts, SHARED, "still one", (es) => es.length === 1);
          assertEquals(now, [held], "never deleted or edited by b");
          // In cluster a one of the two objects holds it and the other waits too.
          const mA = await opA.metrics();
          assertOk(
            /router_hosts_hostname_conflicts\{controller="(hostmapping|ingressroute)"\} 1/.test(
              mA,
            ),
          );
        },
      );

      await t.step("deleting on a removes only a's entries", async () => {
        await clusters.a.hm.delete(ns, "shared");
        await clusters.a.ir.delete(ns, "shared");
        await clusters.a.hm.waitGone(ns, "shared");
        await clusters.a.ir.waitGone(ns, "shared");
        await eventually(
          "a's entry gone",
          async () =>
            !(await bed.hosts.searchHosts(SHARED)).some((e) => e.tags.includes("owner:a")),
        );
        await waitEntries(
          bed.hosts,
          "b-only.home.arpa",
          "b's entry kept",
          (es) => es.length === 1 && es[0].tags.includes("owner:b"),
        );
      });
    });
  } finally {
    await kubeB.stop();
  }
});
