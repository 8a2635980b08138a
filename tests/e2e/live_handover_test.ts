/**
 * Live hand-over and fallback (README "Live repair"):
 *
 * - Two operators (owner ids a and b), each with its own kube-apiserver,
 *   share one router-hosts server and want one hostname. With the resync at
 *   1 h, b takes the name over from WatchHosts as soon as a lets it go.
 * - A server without WatchHosts (UNIMPLEMENTED): the operator says so once,
 *   sets router_hosts_watch_fallback, and the resync still repairs.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { bedTest, HostMappings, withOperator, withOperators } from "../testbed/bed.ts";
import { installCrds, startKube, startRouterHosts, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { waitEntries } from "../testbed/observe.ts";
import { openHostsClient } from "../testbed/bed.ts";

const SHARED = "handover.live.lan";
const IP = "10.9.3.1";

bedTest({
  name: "live hand-over: b takes a hostname over from WatchHosts when a deletes its object",
}, async ({ bed }) => {
  const kubeB = await startKube();
  try {
    await installCrds(kubeB, "router-hosts");
    await withOperators(bed, async (ops) => {
      const ns = uniqueName("handover");
      const hmB = new HostMappings(kubeB);
      for (const [kube, hm] of [[bed.kube, bed.hm], [kubeB, hmB]] as const) {
        await kube.createNamespace(ns);
        await hm.create(ns, "shared", { hostname: SHARED, ip: IP });
      }
      const start = (kubeconfigPath: string, owner: string) =>
        ops.start({
          kubeconfigPath,
          name: `operator-${owner}`,
          args: [`--owner-id=${owner}`, "--resync-period=1h"],
        });
      await start(bed.kube.kubeconfigPath, "a");
      await waitEntries(
        bed.hosts,
        SHARED,
        "held by a",
        (es) => es.length === 1 && es[0].tags.includes("owner:a"),
      );
      const opB = await start(kubeB.kubeconfigPath, "b");
      await hmB.waitFor(
        ns,
        "shared",
        "HostnameConflict",
        (o) => o.status?.conditions?.some((c) => c.reason === "HostnameConflict") === true,
      );
      await eventually(
        "b's stream connected",
        async () => (await opB.scrape()).value("router_hosts_watch_connected") === 1,
      );

      await bed.hm.delete(ns, "shared");
      await bed.hm.waitGone(ns, "shared");
      const gone = performance.now();
      await waitEntries(
        bed.hosts,
        SHARED,
        "taken over by b",
        (es) => es.length === 1 && es[0].tags.includes("owner:b"),
      );
      console.log(
        `hand-over: b's entry exists ${
          Math.round(performance.now() - gone)
        } ms after a's object was gone`,
      );
      await hmB.waitSynced(ns, "shared");
      const m = await opB.scrape();
      assertOk(m.sum("router_hosts_watch_repairs_total", { cause: "released" }) >= 1);
    });
  } finally {
    await kubeB.stop();
  }
});

bedTest({
  name:
    "live fallback: a server without WatchHosts: one log line, the gauge, and the resync still repairs",
}, async ({ bed }) => {
  const rh = await startRouterHosts({ watchHosts: false });
  const hosts = await openHostsClient(rh);
  try {
    await withOperator(
      bed,
      { routerHosts: rh, args: ["--resync-period=2s"] },
      async (op) => {
        await eventually(
          "fallback gauge",
          async () => (await op.scrape()).value("router_hosts_watch_fallback") === 1,
        );
        const lines = op.logs().filter((l) =>
          String(l.msg).includes("does not implement WatchHosts")
        );
        assertEquals(lines.length, 1);
        assertEquals((await op.scrape()).value("router_hosts_watch_connected"), 0);

        const ns = await bed.kube.createNamespace(uniqueName("fallback"));
        await bed.hm.create(ns, "m", { hostname: "fallback.live.lan", ip: "10.9.4.1" });
        await bed.hm.waitSynced(ns, "m");
        const [entry] = await waitEntries(
          hosts,
          "fallback.live.lan",
          "one",
          (es) => es.length === 1,
        );
        await hosts.deleteHost(entry.id);
        await waitEntries(
          hosts,
          "fallback.live.lan",
          "recreated by the resync",
          (es) => es.length === 1 && es[0].id !== entry.id,
        );
        assertEquals(
          (await op.scrape()).sum("router_hosts_watch_repairs_total"),
          0,
          "nothing came from a stream",
        );
      },
    );
  } finally {
    hosts.close();
    await rh.dispose();
  }
});
