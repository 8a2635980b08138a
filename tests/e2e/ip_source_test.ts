/**
 * IP sources end to end: `--ingress-service` feeds the Traefik Service's
 * LoadBalancer address to every IngressRoute host and entries follow it in
 * place when it changes; the per-object override annotation wins; without
 * an address `--default-ingress-ip` is the fallback. The test writes the
 * Service's status itself (no kube-controller-manager runs), as MetalLB or
 * kube-vip would.
 */
import { assertEquals } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { ingressRoutes, ingressRouteSpec, services, serviceSpec } from "./sources_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import { entriesNamed, eventsAbout, grpcCalls, settleWrites } from "../testbed/observe.ts";

/** UpdateHost calls so far, without the settle writes (grpc/settle.ts). */
const updates = (metrics: string) => grpcCalls(metrics, "UpdateHost") - settleWrites(metrics);

const FALLBACK_IP = "10.3.9.9";
const OVERRIDE = "router-hosts.fzymgc.house/ip-address";

/** Route name → its hosts: 4 hosts in 3 IngressRoutes. */
const ROUTES: Record<string, string[]> = {
  a: ["a1.ip.lan", "a2.ip.lan"],
  b: ["b.ip.lan"],
  c: ["c.ip.lan"],
};

bedTest(
  { name: "IP sources: --ingress-service, override annotation, fallback", traefik: true },
  async ({ bed, ops, t }) => {
    const traefikNs = await bed.kube.createNamespace(uniqueName("traefik"));
    const ns = await bed.kube.createNamespace(uniqueName("ipsrc"));
    const svc = services(bed.kube);
    const ir = ingressRoutes(bed.kube);
    await svc.create(traefikNs, "traefik", serviceSpec("LoadBalancer"));
    await svc.setLoadBalancer(traefikNs, "traefik", [{ ip: "10.3.0.1" }]);
    const op = await ops.start({
      args: [`--ingress-service=${traefikNs}/traefik`, `--default-ingress-ip=${FALLBACK_IP}`],
    });
    /** hostname → entry id of every route. */
    const ids: Record<string, string> = {};
    /** Waits until every host of `routes` has its one entry at `ip`, with the same id as before. */
    const allAt = (routes: string[], ip: string) =>
      eventually(`${routes.join(", ")} at ${ip}`, async () => {
        for (const r of routes) {
          for (const h of ROUTES[r]) {
            const entries = await entriesNamed(bed, h);
            if (entries.length !== 1 || entries[0].ipAddress !== ip) return false;
            if (entries[0].id !== ids[h]) throw new Error(`${h} has a new entry id`);
          }
        }
        return true;
      });

    await t.step("3 IngressRoutes synced with the Service's IP", async () => {
      for (const [name, hosts] of Object.entries(ROUTES)) {
        await ir.create(ns, name, ingressRouteSpec(...hosts));
      }
      for (const [name, hosts] of Object.entries(ROUTES)) {
        Object.assign(ids, await ir.waitTracked(ns, name, hosts));
      }
      await allAt(["a", "b", "c"], "10.3.0.1");
    });

    await t.step("the Service's IP changes → every entry follows in place", async () => {
      const before = updates(await op.metrics());
      await svc.setLoadBalancer(traefikNs, "traefik", [{ ip: "10.3.0.2" }]);
      await allAt(["a", "b", "c"], "10.3.0.2");
      assertEquals(updates(await op.metrics()) - before, 4, "one UpdateHost per host");
      for (const name of Object.keys(ROUTES)) {
        const normal = await eventually(`an Updated Event about ${name}`, async () => {
          const found = await eventsAbout(bed.kube, ns, "IngressRoute", name, "Updated");
          return found.length > 0 ? found : undefined;
        });
        assertEquals(
          normal.map((e) => [e.type, e.series]),
          [["Normal", undefined]],
          `one Normal Event about ${name}`,
        );
      }
    });

    await t.step("the override annotation on one IngressRoute wins", async () => {
      await ir.annotate(ns, "c", { [OVERRIDE]: "10.3.7.7" });
      await allAt(["c"], "10.3.7.7");
      const before = updates(await op.metrics());
      await svc.setLoadBalancer(traefikNs, "traefik", [{ ip: "10.3.0.3" }]);
      await allAt(["a", "b"], "10.3.0.3");
      await allAt(["c"], "10.3.7.7");
      assertEquals(updates(await op.metrics()) - before, 3, "c is not touched");
    });

    await t.step("the Service loses its address → --default-ingress-ip", async () => {
      await svc.setLoadBalancer(traefikNs, "traefik", []);
      await allAt(["a", "b"], FALLBACK_IP);
      await allAt(["c"], "10.3.7.7");
    });

    await t.step("a hostname-only address is resolved with DNS", async () => {
      await svc.setLoadBalancer(traefikNs, "traefik", [{ hostname: "localhost" }]);
      await allAt(["a", "b"], "127.0.0.1");
    });

    await t.step("override removed → back to the Service's address", async () => {
      await ir.annotate(ns, "c", { [OVERRIDE]: null });
      await allAt(["a", "b", "c"], "127.0.0.1");
    });
  },
);
