/**
 * `--dry-run` end to end: on a populated cluster with pending changes, the
 * operator reads and plans everything and writes nothing — zero gRPC writes
 * (its own metrics), zero Kubernetes writes (every object's resourceVersion
 * unchanged, no Event), the server's entries unchanged — and its log lists
 * every change it would have made. Probes behave as usual.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually, metricSum, type OperatorProcess } from "../testbed/operator.ts";
import { INGRESS_IP, IngressRoutes } from "./policy_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import { events, waitEntries, waitIdle } from "../testbed/observe.ts";

bedTest(
  { name: "--dry-run: everything planned and logged, nothing written", traefik: true },
  async ({ bed, ops, t }) => {
    let op: OperatorProcess | undefined;
    const ir = new IngressRoutes(bed.kube);
    const { hm, hosts } = bed;
    const ns = await bed.kube.createNamespace(uniqueName("dry"));
    const args = [`--default-ingress-ip=${INGRESS_IP}`];

    // A populated cluster, synced by a normal run.
    op = await ops.start({ args });
    await hm.create(ns, "nas", { hostname: "nas.home.arpa", ip: "10.3.0.5" });
    await hm.create(ns, "old", { hostname: "old.home.arpa", ip: "10.3.0.6" });
    await ir.create(ns, "web", ["web.home.arpa", "www.home.arpa"]);
    await hm.waitSynced(ns, "nas");
    await hm.waitSynced(ns, "old");
    await waitEntries(hosts, "www.home.arpa", "synced", (es) => es.length === 1);
    await waitIdle(op, "ingressroute");
    await op.stop();
    op = undefined;

    // Changes while no operator runs: a new object of each kind, a changed
    // spec, a deletion (held by our finalizer).
    await hm.create(ns, "new", { hostname: "new.home.arpa", ip: "10.3.0.7" });
    await ir.create(ns, "api", ["api.home.arpa"]);
    await hm.patch(ns, "nas", { spec: { ip: "10.3.0.50" } });
    await hm.delete(ns, "old");
    const eventsBefore = (await events(bed.kube, ns)).length;

    const versions = async () => {
      const out: Record<string, string> = {};
      for (const name of ["nas", "old", "new"]) {
        out[`hm/${name}`] = (await hm.get(ns, name)).metadata.resourceVersion;
      }
      for (const name of ["web", "api"]) {
        out[`ir/${name}`] = (await ir.get(ns, name)).metadata.resourceVersion;
      }
      return out;
    };
    const entries = async () =>
      JSON.stringify((await hosts.searchHosts("home.arpa")).sort((a, b) => a.id < b.id ? -1 : 1));
    const rvBefore = await versions();
    const entriesBefore = await entries();

    op = await ops.start({ args: [...args, "--dry-run"] });

    await t.step("the log lists every planned change", async () => {
      const planned = (msg: string, match: (l: Record<string, unknown>) => boolean) =>
        eventually(
          `a log line "${msg}"`,
          () => op!.logs().some((l) => l.msg === msg && match(l)),
        );
      await planned("dry-run: would AddHost", (l) => l.hostname === "new.home.arpa");
      await planned("dry-run: would AddHost", (l) => l.hostname === "api.home.arpa");
      await planned("dry-run: would UpdateHost", (l) => l.ipAddress === "10.3.0.50");
      await planned("dry-run: would DeleteHost", () => true);
      await planned("dry-run: would add finalizer", (l) => l.object === `${ns}/new`);
      await planned("dry-run: would add finalizer", (l) => l.object === `${ns}/api`);
      await planned("dry-run: would remove finalizer", (l) => l.object === `${ns}/old`);
      await planned("dry-run: would write status", (l) => l.object === `${ns}/new`);
      await planned("dry-run: would write annotations", (l) => l.object === `${ns}/api`);
      await waitIdle(op!, "hostmapping");
      await waitIdle(op!, "ingressroute");
    });

    await t.step("zero gRPC writes, zero Kubernetes writes; probes as usual", async () => {
      const m = await op!.metrics();
      for (const method of ["AddHost", "UpdateHost", "DeleteHost"]) {
        assertEquals(
          metricSum(m, "router_hosts_grpc_requests_total", `method="${method}"`),
          0,
          method,
        );
      }
      assertOk(metricSum(m, "router_hosts_grpc_requests_total", `method="GetHost"`) > 0, "reads");
      assertEquals(await versions(), rvBefore);
      assertEquals(await entries(), entriesBefore);
      assertEquals((await events(bed.kube, ns)).length, eventsBefore, "no Event recorded");
      assertEquals(await op!.probe("/readyz"), 200);
      assertEquals(await op!.probe("/healthz"), 200);
    });
  },
);
