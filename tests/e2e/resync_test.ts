/**
 * A periodic resync of objects that are already in sync costs reads only:
 * no AddHost/UpdateHost, no server version moves, no HostMapping writes.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { dumpLogs, uniqueName } from "../testbed/mod.ts";
import { eventually, metricSum, type OperatorProcess, startOperator } from "../testbed/operator.ts";
import { type Bed, startBed, stopBed } from "./fixture.ts";

const N = 50;

Deno.test({
  name: `resync of ${N} in-sync HostMappings writes nothing`,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const bed: Bed = await startBed();
  let op: OperatorProcess | undefined;
  try {
    op = await startOperator({
      kubeconfigPath: bed.kube.kubeconfigPath,
      routerHosts: bed.rh,
      args: ["--resync-period=2s"],
    });
    const ns = await bed.kube.createNamespace(uniqueName("resync"));
    const names = Array.from({ length: N }, (_, i) => `host-${i}`);
    await Promise.all(
      names.map((n, i) => bed.hm.create(ns, n, { hostname: `${n}.lan`, ip: `10.4.0.${i + 1}` })),
    );
    await Promise.all(names.map((n) => bed.hm.waitSynced(ns, n, 60_000)));

    const objects = () => Promise.all(names.map((n) => bed.hm.get(ns, n)));
    const before = await objects();
    const versionsBefore = new Map((await bed.hosts.listHosts()).map((e) => [e.id, e.version]));
    const m0 = await op.metrics();
    const gets0 = metricSum(m0, "router_hosts_grpc_requests_total", 'method="GetHost"');

    // Wait until every object was checked at least twice more (resync every 2 s).
    await eventually(
      "two full resyncs",
      async () =>
        metricSum(await op!.metrics(), "router_hosts_grpc_requests_total", 'method="GetHost"') >=
          gets0 + 2 * N,
      60_000,
    );
    const m1 = await op.metrics();
    assertEquals(
      metricSum(m1, "router_hosts_grpc_requests_total", 'method="AddHost"'),
      metricSum(m0, "router_hosts_grpc_requests_total", 'method="AddHost"'),
      "AddHost calls",
    );
    assertEquals(
      metricSum(m1, "router_hosts_grpc_requests_total", 'method="UpdateHost"'),
      metricSum(m0, "router_hosts_grpc_requests_total", 'method="UpdateHost"'),
      "UpdateHost calls",
    );
    assertEquals(
      metricSum(m1, "router_hosts_grpc_requests_total", 'method="DeleteHost"'),
      metricSum(m0, "router_hosts_grpc_requests_total", 'method="DeleteHost"'),
      "DeleteHost calls",
    );

    const after = await objects();
    for (let i = 0; i < N; i++) {
      assertEquals(
        after[i].metadata.resourceVersion,
        before[i].metadata.resourceVersion,
        `${names[i]} was written during resync`,
      );
    }
    const versionsAfter = new Map((await bed.hosts.listHosts()).map((e) => [e.id, e.version]));
    assertEquals(versionsAfter, versionsBefore, "server versions moved");
    assertOk(versionsBefore.size >= N);
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    await op?.stop();
    await stopBed(bed);
  }
});
