/**
 * The Ingress source end to end (`--enable-ingress --ingress-class`): the
 * operator runs as its own process against a real kube-apiserver and the
 * router-hosts server; the test writes the Ingress's LoadBalancer status
 * itself, as an ingress controller would.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { ingresses } from "./sources_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import { entriesNamed, waitReconciles } from "../testbed/observe.ts";

const FINALIZER = "router-hosts.fzymgc.house/ingress-cleanup";
const DEFAULT_IP = "10.5.9.9";

function rules(...hosts: string[]) {
  return hosts.map((host) => ({
    host,
    http: {
      paths: [{
        path: "/",
        pathType: "Prefix",
        backend: { service: { name: "web", port: { number: 80 } } },
      }],
    },
  }));
}

bedTest({ name: "Ingress source" }, async ({ bed, ops, t }) => {
  const ns = await bed.kube.createNamespace(uniqueName("ing"));
  const ing = ingresses(bed.kube);
  const op = await ops.start({
    args: [
      "--enable-ingress",
      "--ingress-class=traefik",
      "--ingress-class=internal",
      `--default-ingress-ip=${DEFAULT_IP}`,
      "--resync-period=2s",
    ],
  });
  let ids: Record<string, string> = {};
  await t.step("matching class → rule hosts synced (wildcard skipped)", async () => {
    await ing.create(ns, "web", {
      ingressClassName: "traefik",
      rules: rules("web.ing.lan", "*.ing.lan", "api.ing.lan"),
    });
    ids = await ing.waitTracked(ns, "web", ["web.ing.lan", "api.ing.lan"]);
    for (const [hostname, id] of Object.entries(ids)) {
      const e = await bed.hosts.getHost(id);
      assertEquals(
        [e.hostname, e.ipAddress, e.comment, e.tags],
        [hostname, DEFAULT_IP, `k8s-ingress-v1:${ns}/web`, ["kubernetes", "ingress-v1"]],
      );
    }
    assertOk((await ing.get(ns, "web")).metadata.finalizers?.includes(FINALIZER));
  });

  await t.step(
    "the Ingress's own LoadBalancer status wins; entries follow in place",
    async () => {
      await ing.setLoadBalancer(ns, "web", [{ ip: "10.5.0.1" }]);
      await eventually("both entries at the status IP", async () => {
        for (const id of Object.values(ids)) {
          if ((await bed.hosts.getHost(id)).ipAddress !== "10.5.0.1") return false;
        }
        return true;
      });
      assertEquals(await ing.hostIds(ns, "web"), ids);
      assertEquals((await entriesNamed(bed, "web.ing.lan")).length, 1);
    },
  );

  await t.step("legacy class annotation selects too; another class is ignored", async () => {
    await ing.create(ns, "other", { ingressClassName: "nginx", rules: rules("other.ing.lan") });
    await ing.create(
      ns,
      "legacy",
      { rules: rules("legacy.ing.lan") },
      { "kubernetes.io/ingress.class": "internal" },
    );
    await ing.waitTracked(ns, "legacy", ["legacy.ing.lan"]);
    // Every key is re-checked every 2 s: after several rounds "other" has been seen.
    await waitReconciles(op, "ingress", 6);
    assertEquals(await entriesNamed(bed, "other.ing.lan"), []);
    const other = await ing.get(ns, "other");
    assertEquals(other.metadata.finalizers ?? [], []);
    assertEquals(other.metadata.annotations?.["router-hosts.fzymgc.house/host-ids"], undefined);
  });

  await t.step(
    "class changed to one not selected → entries removed, finalizer gone",
    async () => {
      await ing.patch(ns, "web", { spec: { ingressClassName: "nginx" } });
      await eventually(
        "finalizer removed",
        async () => !(await ing.get(ns, "web")).metadata.finalizers?.includes(FINALIZER),
      );
      assertEquals(await entriesNamed(bed, "web.ing.lan"), []);
      assertEquals(await entriesNamed(bed, "api.ing.lan"), []);
      assertEquals(await ing.hostIds(ns, "web"), undefined);
    },
  );

  await t.step("deleted → entries deleted, object gone", async () => {
    await ing.delete(ns, "legacy");
    await ing.waitGone(ns, "legacy");
    assertEquals(await entriesNamed(bed, "legacy.ing.lan"), []);
  });
});
