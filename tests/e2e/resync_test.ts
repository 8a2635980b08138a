/**
 * A periodic resync of objects that are already in sync costs reads only:
 * no AddHost/UpdateHost, no server version moves, no HostMapping writes.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { bedTest } from "../testbed/bed.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";

const N = 50;
const CALLS = "router_hosts_grpc_requests_total";
const SETTLES = "router_hosts_settle_writes_total";

bedTest({ name: `resync of ${N} in-sync HostMappings writes nothing` }, async ({ bed, ops }) => {
  const op = await ops.start({ args: ["--resync-period=2s"] });
  const ns = await bed.kube.createNamespace(uniqueName("resync"));
  const names = Array.from({ length: N }, (_, i) => `host-${i}`);
  await Promise.all(
    names.map((n, i) => bed.hm.create(ns, n, { hostname: `${n}.lan`, ip: `10.4.0.${i + 1}` })),
  );
  await Promise.all(names.map((n) => bed.hm.waitSynced(ns, n, 60_000)));

  const objects = () => Promise.all(names.map((n) => bed.hm.get(ns, n)));
  const before = await objects();
  const versionsBefore = new Map((await bed.hosts.listHosts()).map((e) => [e.id, e.version]));
  const m0 = await op.scrape();
  const gets0 = m0.sum(CALLS, { method: "GetHost" });

  // Wait until every object was checked at least twice more (resync every 2 s).
  await eventually(
    "two full resyncs",
    async () => (await op.scrape()).sum(CALLS, { method: "GetHost" }) >= gets0 + 2 * N,
    60_000,
  );
  const m1 = await op.scrape();
  // The settle write after the initial burst (grpc/settle.ts) may land in
  // this window; it is no resync write and moves no version.
  const settles = (m: typeof m0) => m.sum(SETTLES) - m.sum(SETTLES, { result: "skipped" });
  for (const method of ["AddHost", "UpdateHost", "DeleteHost"]) {
    const settled = method === "UpdateHost" ? settles(m1) - settles(m0) : 0;
    assertEquals(
      m1.sum(CALLS, { method }) - settled,
      m0.sum(CALLS, { method }),
      `${method} calls`,
    );
  }

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
});
