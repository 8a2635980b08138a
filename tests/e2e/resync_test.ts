/**
 * A periodic resync of objects that are already in sync costs reads only:
 * no AddHost/UpdateHost, no server version moves, no HostMapping writes.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { dumpLogs, uniqueName } from "../testbed/mod.ts";
import { eventually, type OperatorProcess, startOperator } from "../testbed/operator.ts";
import { type Bed, startBed, stopBed } from "./fixture.ts";

const N = 50;

function grpcCalls(metrics: string, method: string): number {
  let total = 0;
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`router_hosts_grpc_requests_total{method="${method}"`)) {
      total += Number(line.split(" ").at(-1));
    }
  }
  return total;
}

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
    const gets0 = grpcCalls(m0, "GetHost");

    // Wait until every object was checked at least twice more (resync every 2 s).
    await eventually(
      "two full resyncs",
      async () => grpcCalls(await op!.metrics(), "GetHost") >= gets0 + 2 * N,
      60_000,
    );
    const m1 = await op.metrics();
    assertEquals(grpcCalls(m1, "AddHost"), grpcCalls(m0, "AddHost"), "AddHost calls");
    assertEquals(grpcCalls(m1, "UpdateHost"), grpcCalls(m0, "UpdateHost"), "UpdateHost calls");
    assertEquals(grpcCalls(m1, "DeleteHost"), grpcCalls(m0, "DeleteHost"), "DeleteHost calls");

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
