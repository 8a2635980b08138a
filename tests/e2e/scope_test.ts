/**
 * `--namespace` and `--label-selector` end to end: objects outside the
 * namespaces or not matching the selector make no entry and no write;
 * adding the label brings an object in, removing it releases the object
 * (entries deleted, annotation and finalizer removed); and two installations
 * with disjoint namespaces share one server — neither's orphan sweep takes
 * the other's entries, though both run without an owner id.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import { bedTest, FINALIZER } from "../testbed/bed.ts";
import { entriesNamed, waitEntries } from "../testbed/observe.ts";
import { HOST_IDS, ingressRoutes, ingressRouteSpec } from "./sources_fixture.ts";

const IP = "10.8.0.1";
const IR_FINALIZER = "router-hosts.fzymgc.house/ingressroute-cleanup";

bedTest({
  name: "scope: namespaces and a label selector bound what is synced and written",
  traefik: true,
}, async ({ bed, ops, t }) => {
  const { kube, hm, hosts } = bed;
  const ir = ingressRoutes(kube);
  const [inA, inB, out] = await Promise.all(
    ["scope-a", "scope-b", "scope-out"].map((n) => kube.createNamespace(uniqueName(n))),
  );
  const route = (ns: string, name: string, host: string, labels: Record<string, string>) =>
    kube.postJson<{ metadata: { resourceVersion: string } }>(ir.path(ns), {
      apiVersion: ir.apiVersion,
      kind: ir.kind,
      metadata: { name, labels },
      spec: ingressRouteSpec(host),
    });
  await route(inA, "lan", "lan.scope.lan", { router: "lan" });
  const unlabelled = await route(inA, "later", "later.scope.lan", {});
  const outside = await route(out, "lan", "out.scope.lan", { router: "lan" });
  await hm.create(inB, "nas", { hostname: "nas.scope.lan", ip: "10.8.0.20" });
  const hmOutside = await hm.create(out, "nas", {
    hostname: "out-nas.scope.lan",
    ip: "10.8.0.21",
  });

  let a: OperatorProcess | undefined = await ops.start({
    name: "operator-scoped",
    args: [
      `--namespace=${inA},${inB}`,
      "--label-selector=router=lan",
      `--default-ingress-ip=${IP}`,
      "--gc-interval=1s",
    ],
  });

  await t.step("in scope: synced; outside: no entry and no write", async () => {
    await ir.waitTracked(inA, "lan", ["lan.scope.lan"]);
    await hm.waitSynced(inB, "nas");
    assertEquals((await entriesNamed(bed, "lan.scope.lan"))[0]?.ipAddress, IP);
    for (const h of ["later.scope.lan", "out.scope.lan", "out-nas.scope.lan"]) {
      assertEquals(await entriesNamed(bed, h), [], `${h} has no entry`);
    }
    const later = await ir.get(inA, "later");
    assertEquals(later.metadata.resourceVersion, unlabelled.metadata.resourceVersion);
    assertEquals(
      (await ir.get(out, "lan")).metadata.resourceVersion,
      outside.metadata.resourceVersion,
    );
    const nas = await hm.get(out, "nas");
    assertEquals(nas.metadata.resourceVersion, hmOutside.metadata.resourceVersion);
    assertEquals([nas.metadata.finalizers, nas.status], [undefined, undefined]);
    const listed = a!.logs().filter((l) =>
      l.msg === "listed" && l.resource === "ingressroutes.traefik.io"
    );
    assertEquals(listed.length, 2, "one list per namespace");
    assertEquals(
      listed.map((l) => l.objects).sort(),
      [0, 1],
      "the cache holds only the labelled one",
    );
  });

  await t.step("adding the label brings an object in", async () => {
    await ir.patch(inA, "later", { metadata: { labels: { router: "lan" } } });
    await ir.waitTracked(inA, "later", ["later.scope.lan"]);
    assertEquals((await entriesNamed(bed, "later.scope.lan")).length, 1);
  });

  await t.step("removing the label deletes its entries, annotation and finalizer", async () => {
    await ir.patch(inA, "lan", { metadata: { labels: { router: null } } });
    await waitEntries(hosts, "lan.scope.lan", "released", (es) => es.length === 0);
    const left = await eventually("annotation and finalizer removed", async () => {
      const o = await ir.get(inA, "lan");
      return !o.metadata.annotations?.[HOST_IDS] &&
          !o.metadata.finalizers?.includes(IR_FINALIZER)
        ? o
        : undefined;
    });
    assertEquals(left.metadata.finalizers ?? [], []);
    await ir.delete(inA, "lan");
    await ir.waitGone(inA, "lan");
  });

  await t.step("a second installation on the other namespace shares the server", async () => {
    const b = await ops.start({
      name: "operator-out",
      args: [`--namespace=${out}`, `--default-ingress-ip=${IP}`, "--gc-interval=1s"],
    });
    await ir.waitTracked(out, "lan", ["out.scope.lan"]);
    await hm.waitSynced(out, "nas");
    // An orphan in a's scope proves a's sweep runs; b's entries must outlive it.
    const ghost = await hosts.addHost({
      ipAddress: "10.8.0.99",
      hostname: "ghost.scope.lan",
      comment: `k8s:${inB}/ghost`,
      tags: [],
    });
    await waitEntries(hosts, "ghost.scope.lan", "swept by a", (es) => es.length === 0, 20_000);
    const sweeps = (op: OperatorProcess) =>
      op.logs().filter((l) => l.msg === "orphan sweep done").length;
    const [sa, sb] = [sweeps(a!), sweeps(b)];
    await eventually("two more sweeps each", () => sweeps(a!) >= sa + 2 && sweeps(b) >= sb + 2);
    for (
      const h of ["out.scope.lan", "out-nas.scope.lan", "later.scope.lan", "nas.scope.lan"]
    ) {
      assertEquals((await entriesNamed(bed, h)).length, 1, `${h} kept`);
    }
    const deleted = [...a!.logs(), ...b.logs()].filter((l) =>
      l.msg === "orphan entry deleted: its object no longer exists"
    );
    assertEquals(deleted.map((l) => l.hostId), [ghost.id], "only the ghost was an orphan");
    assertOk([...a!.logs(), ...b.logs()].every((l) => l.level !== "error"), "no error logged");
    assertEquals((await hm.get(out, "nas")).metadata.finalizers, [FINALIZER]);
    await a!.stop();
    a = undefined;
  });
});
