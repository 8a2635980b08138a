/**
 * Policy end to end (spec sources.md §6): the domain filter, upsert-only,
 * the `on-delete: retain` annotation, and hostname conflicts between two
 * IngressRoutes — the operator as its own process against a real
 * kube-apiserver (Traefik's real CRDs) and the router-hosts server.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { sleep, uniqueName } from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import { bedTest, HM_API, type HostMappingObject } from "../testbed/bed.ts";
import { INGRESS_IP, IngressRoutes, IR_FINALIZER, ON_DELETE } from "./policy_fixture.ts";
import { events, reconciles, waitEntries, waitEvent, waitIdle } from "../testbed/observe.ts";

const TAGS = ["kubernetes", "traefik", "ingress"];

bedTest(
  { name: "policy: domain filter, retain, conflicts, upsert-only", traefik: true },
  async ({ bed, ops, t }) => {
    let op: OperatorProcess | undefined;
    const start = async (...args: string[]) => {
      op = await ops.start({ args: [`--default-ingress-ip=${INGRESS_IP}`, ...args] });
      return op;
    };
    const ir = new IngressRoutes(bed.kube);
    const { hosts, hm } = bed;
    const ns = await bed.kube.createNamespace(uniqueName("policy"));
    await start("--domain-filter=home.arpa", "--resync-period=2s");

    await t.step(
      "domain filter: app.home.arpa synced, app.example.com skipped with one Event; a person's entry survives a full resync and the delete",
      async () => {
        const hand = await hosts.addHost({
          ipAddress: INGRESS_IP,
          hostname: "app.example.com",
          comment: "added by hand",
          tags: ["manual"],
        });
        await ir.create(ns, "web", ["app.home.arpa", "app.example.com"]);
        const [ours] = await waitEntries(
          hosts,
          "app.home.arpa",
          "our entry",
          (es) => es.length === 1,
        );
        assertEquals([ours.comment, ours.tags], [`k8s-ingress:${ns}/web`, TAGS]);
        const ev = await waitEvent(bed.kube, ns, { name: "web" }, "DomainFiltered");
        assertMatch(ev.note, /app\.example\.com \(outside --domain-filter home\.arpa\)/);

        // Full resyncs (every 2 s here): every object is reconciled again.
        const seen = await reconciles(op!, "ingressroute");
        await eventually(
          "two full resyncs",
          async () => await reconciles(op!, "ingressroute") >= seen + 2,
        );
        assertEquals(await hosts.getHost(hand.id), hand, "untouched after the resync");
        assertEquals(
          (await events(bed.kube, ns)).filter((e) =>
            e.reason === "DomainFiltered" && e.regarding.name === "web"
          ).length,
          1,
          "one Event per object",
        );

        await ir.delete(ns, "web");
        await ir.waitGone(ns, "web");
        await waitEntries(hosts, "app.home.arpa", "our entry deleted", (es) => es.length === 0);
        assertEquals(await hosts.getHost(hand.id), hand, "untouched after the delete");
        // The remaining steps count reconciles: no periodic resync in their windows.
        await op!.stop();
        await start("--domain-filter=home.arpa");
      },
    );

    await t.step(
      "retain annotation on a HostMapping keeps its entry; sync policy on another removes it",
      async () => {
        const create = (name: string, hostname: string, annotations?: Record<string, string>) =>
          bed.kube.postJson<HostMappingObject>(`${HM_API}/namespaces/${ns}/hostmappings`, {
            apiVersion: "router-hosts.fzymgc.house/v1alpha1",
            kind: "HostMapping",
            metadata: { name, annotations },
            spec: { hostname, ip: "10.3.0.1" },
          });
        await create("keep", "keep.home.arpa", { [ON_DELETE]: "retain" });
        await create("drop", "drop.home.arpa");
        const keep = await hm.waitSynced(ns, "keep");
        const drop = await hm.waitSynced(ns, "drop");
        await hm.delete(ns, "keep");
        await hm.delete(ns, "drop");
        await hm.waitGone(ns, "keep");
        await hm.waitGone(ns, "drop");
        const kept = await hosts.getHost(keep.status!.hostId!);
        assertEquals(kept.comment, `k8s:${ns}/keep`);
        assertOk(kept.tags.includes("retained"), "tagged retained for the orphan sweep");
        await waitEntries(hosts, "drop.home.arpa", "deleted", (es) => es.length === 0);
        assertOk(drop.status!.hostId);
      },
    );

    await t.step(
      "two IngressRoutes claim one hostname: one owns, the other has one Event, no loop; the other takes over when the owner goes",
      async () => {
        await ir.create(ns, "first", ["shared.home.arpa"]);
        await waitEntries(
          hosts,
          "shared.home.arpa",
          "held by first",
          (es) => es.length === 1 && es[0].comment === `k8s-ingress:${ns}/first`,
        );
        await ir.create(ns, "second", ["shared.home.arpa"]);
        const ev = await waitEvent(bed.kube, ns, { name: "second" }, "HostnameConflict");
        assertEquals(ev.type, "Warning");
        assertMatch(ev.note, new RegExp(`k8s-ingress:${ns}/first`));
        await waitIdle(op!, "ingressroute");
        const before = await reconciles(op!, "ingressroute");
        const gauge = await op!.metrics();
        assertMatch(gauge, /router_hosts_hostname_conflicts\{controller="ingressroute"\} 1/);
        // An observation window, not a timing assertion: no reconcile may happen in it.
        await sleep(30_000);
        assertEquals(await reconciles(op!, "ingressroute"), before, "no retry loop");
        const conflicts = (await events(bed.kube, ns)).filter((e) =>
          e.reason === "HostnameConflict" && e.regarding.name === "second"
        );
        assertEquals(conflicts.length, 1);
        assertEquals(conflicts[0].series, undefined, "reported once, not repeated");
        const [held] = await waitEntries(
          hosts,
          "shared.home.arpa",
          "one",
          (es) => es.length === 1,
        );
        assertEquals(held.comment, `k8s-ingress:${ns}/first`);

        await ir.delete(ns, "first");
        await waitEntries(
          hosts,
          "shared.home.arpa",
          "taken over by second",
          (es) => es.length === 1 && es[0].comment === `k8s-ingress:${ns}/second`,
          10_000,
        );
        await eventually(
          "the conflict gauge back to 0",
          async () =>
            /router_hosts_hostname_conflicts\{controller="ingressroute"\} 0/.test(
              await op!.metrics(),
            ),
        );
        await ir.delete(ns, "second");
        await ir.waitGone(ns, "second");
      },
    );

    await t.step(
      "upsert-only: no finalizer, and the delete of an IngressRoute leaves its entries",
      async () => {
        await op!.stop();
        await start("--policy=upsert-only");
        await ir.create(ns, "up", ["up.home.arpa", "up2.home.arpa"]);
        const [entry] = await waitEntries(
          hosts,
          "up.home.arpa",
          "created",
          (es) => es.length === 1,
        );
        await waitEntries(hosts, "up2.home.arpa", "created", (es) => es.length === 1);
        await waitIdle(op!, "ingressroute");
        const obj = await ir.get(ns, "up");
        assertEquals(obj.metadata.finalizers?.includes(IR_FINALIZER) ?? false, false);
        await ir.delete(ns, "up");
        await ir.waitGone(ns, "up");
        await waitIdle(op!, "ingressroute");
        assertEquals(await hosts.getHost(entry.id), entry, "kept as it was");
        await waitEntries(hosts, "up2.home.arpa", "kept", (es) => es.length === 1);
      },
    );
  },
);
