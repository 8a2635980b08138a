/**
 * The Service source end to end (`--enable-service
 * --external-dns-annotations`): the operator runs as its own process
 * against a real kube-apiserver and the router-hosts server. No
 * kube-controller-manager runs, so the test writes each Service's
 * LoadBalancer status itself, as a cloud controller would.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { services, serviceSpec } from "./sources_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import {
  entriesNamed,
  eventsAbout,
  grpcCalls,
  settleWrites,
  waitEvent,
  waitForHostsFile,
  waitReconciles,
} from "../testbed/observe.ts";

const P = "router-hosts.fzymgc.house/";
const FINALIZER = `${P}service-cleanup`;
const TAGS = ["kubernetes", "service"];

bedTest({ name: "Service source" }, async ({ bed, ops, t }) => {
  const ns = await bed.kube.createNamespace(uniqueName("svc"));
  const svc = services(bed.kube);

  // Written in the Go operator's format before the operator starts: adopted, not duplicated.
  const goEntry = await bed.hosts.addHost({
    ipAddress: "10.4.0.9",
    hostname: "legacy.svc.lan",
    comment: `k8s-service:${ns}/legacy`,
    aliases: [],
    tags: TAGS,
  });

  const op = await ops.start({
    args: ["--enable-service", "--external-dns-annotations", "--resync-period=2s"],
  });
  let webId = "";
  await t.step("LoadBalancer opted in, status IP written → entry with aliases", async () => {
    await svc.create(ns, "web", serviceSpec("LoadBalancer"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "web.svc.lan",
      [`${P}aliases`]: "www.svc.lan, app.svc.lan",
    });
    await waitEvent(bed.kube, ns, { kind: "Service", name: "web" }, "PendingLoadBalancer");
    await svc.setLoadBalancer(ns, "web", [{ ip: "10.4.0.1" }]);
    const ids = await svc.waitTracked(ns, "web", ["web.svc.lan"]);
    webId = ids["web.svc.lan"];
    const entry = await bed.hosts.getHost(webId);
    assertEquals(
      [entry.ipAddress, entry.hostname, entry.comment, entry.tags, entry.aliases.toSorted()],
      ["10.4.0.1", "web.svc.lan", `k8s-service:${ns}/web`, TAGS, [
        "app.svc.lan",
        "www.svc.lan",
      ]],
    );
    assertOk((await svc.get(ns, "web")).metadata.finalizers?.includes(FINALIZER));
    await waitForHostsFile(
      bed.rh,
      "web.svc.lan at 10.4.0.1",
      (lines) => lines.some((l) => l.hostname === "web.svc.lan" && l.ip === "10.4.0.1"),
    );
  });

  await t.step("PendingLoadBalancer is reported once per wait, not per poll", async () => {
    await svc.create(ns, "pending", serviceSpec("LoadBalancer"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "pending.svc.lan",
    });
    await waitEvent(bed.kube, ns, { kind: "Service", name: "pending" }, "PendingLoadBalancer");
    // Every Service is re-checked every 2 s (--resync-period=2s): two full rounds.
    const all = (await bed.kube.getJson<{ items: unknown[] }>("/api/v1/services")).items.length;
    await waitReconciles(op, "service", 2 * all);
    const pending = await eventsAbout(
      bed.kube,
      ns,
      "Service",
      "pending",
      "PendingLoadBalancer",
    );
    assertEquals(pending.map((e) => [e.type, e.series]), [["Normal", undefined]]);
    assertEquals(await entriesNamed(bed, "pending.svc.lan"), []);
    assertEquals(
      (await svc.get(ns, "pending")).metadata.finalizers ?? [],
      [],
      "nothing written",
    );
  });

  await t.step("status IP changed → same entry id, new IP, one UpdateHost", async () => {
    const updates = (m: string) => grpcCalls(m, "UpdateHost") - settleWrites(m);
    const updatesBefore = updates(await op.metrics());
    await svc.setLoadBalancer(ns, "web", [{ ip: "10.4.0.2" }]);
    await eventually(
      "the entry follows the new IP",
      async () => (await bed.hosts.getHost(webId)).ipAddress === "10.4.0.2",
    );
    assertEquals((await svc.hostIds(ns, "web"))?.["web.svc.lan"], webId);
    assertEquals((await entriesNamed(bed, "web.svc.lan")).length, 1, "no duplicate");
    assertEquals(updates(await op.metrics()) - updatesBefore, 1);
  });

  await t.step("in sync: resyncs write nothing", async () => {
    const m = await op.metrics();
    // Settle writes (grpc/settle.ts) after earlier steps' writes are not resync writes.
    const writes = (text: string) =>
      ["AddHost", "UpdateHost", "DeleteHost"].map((x) =>
        grpcCalls(text, x) - (x === "UpdateHost" ? settleWrites(text) : 0)
      );
    const before = writes(m);
    await waitReconciles(op, "service", 3);
    assertEquals(writes(await op.metrics()), before);
  });

  await t.step("opt-in annotation removed → entry deleted and finalizer gone", async () => {
    await svc.annotate(ns, "web", { [`${P}enabled`]: null });
    await eventually(
      "finalizer removed",
      async () => !(await svc.get(ns, "web")).metadata.finalizers?.includes(FINALIZER),
    );
    assertEquals(await entriesNamed(bed, "web.svc.lan"), []);
    await waitForHostsFile(
      bed.rh,
      "no line for web.svc.lan",
      (lines) => !lines.some((l) => l.hostname === "web.svc.lan"),
    );
  });

  await t.step("type ClusterIP → InvalidServiceType, no entry, no finalizer", async () => {
    await svc.create(ns, "internal", serviceSpec("ClusterIP"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "internal.svc.lan",
    });
    const ev = await waitEvent(
      bed.kube,
      ns,
      { kind: "Service", name: "internal" },
      "InvalidServiceType",
    );
    assertEquals(ev.type, "Warning");
    assertMatch(ev.note, /ClusterIP/);
    assertEquals(await entriesNamed(bed, "internal.svc.lan"), []);
    assertEquals((await svc.get(ns, "internal")).metadata.finalizers ?? [], []);
  });

  await t.step("NodePort without ip-address → MissingIPAddress; with it → entry", async () => {
    await svc.create(ns, "np", serviceSpec("NodePort"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "np.svc.lan",
    });
    const ev = await waitEvent(
      bed.kube,
      ns,
      { kind: "Service", name: "np" },
      "MissingIPAddress",
    );
    assertEquals(ev.type, "Warning");
    assertEquals(await entriesNamed(bed, "np.svc.lan"), []);
    await svc.annotate(ns, "np", { [`${P}ip-address`]: "192.168.50.7" });
    const ids = await svc.waitTracked(ns, "np", ["np.svc.lan"]);
    assertEquals((await bed.hosts.getHost(ids["np.svc.lan"])).ipAddress, "192.168.50.7");
  });

  await t.step("hostname-only LoadBalancer status → resolved with DNS", async () => {
    await svc.create(ns, "aws", serviceSpec("LoadBalancer"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "aws.svc.lan",
    });
    await svc.setLoadBalancer(ns, "aws", [{ hostname: "localhost" }]);
    const ids = await svc.waitTracked(ns, "aws", ["aws.svc.lan"]);
    assertEquals((await bed.hosts.getHost(ids["aws.svc.lan"])).ipAddress, "127.0.0.1");
  });

  await t.step("unresolvable hostname → one Warning Event, retried, no entry", async () => {
    await svc.create(ns, "nxdomain", serviceSpec("LoadBalancer"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "nx.svc.lan",
    });
    await svc.setLoadBalancer(ns, "nxdomain", [{ hostname: "lb.does-not-exist.invalid" }]);
    const ev = await waitEvent(
      bed.kube,
      ns,
      { kind: "Service", name: "nxdomain" },
      "UnresolvableAddress",
    );
    assertEquals(ev.type, "Warning");
    assertMatch(ev.note, /lb\.does-not-exist\.invalid/);
    await waitReconciles(op, "service", 2, true);
    const all = await eventsAbout(bed.kube, ns, "Service", "nxdomain", "UnresolvableAddress");
    assertEquals([all.length, all[0].series], [1, undefined], "one Event, not one per retry");
    assertEquals(await entriesNamed(bed, "nx.svc.lan"), []);
  });

  await t.step("an entry in the Go operator's Service format is adopted", async () => {
    await svc.create(ns, "legacy", serviceSpec("LoadBalancer"), {
      [`${P}enabled`]: "true",
      [`${P}hostname`]: "legacy.svc.lan",
    });
    await svc.setLoadBalancer(ns, "legacy", [{ ip: "10.4.0.9" }]);
    const ids = await svc.waitTracked(ns, "legacy", ["legacy.svc.lan"]);
    assertEquals(ids["legacy.svc.lan"], goEntry.id, "the existing entry, not a new one");
    assertEquals((await entriesNamed(bed, "legacy.svc.lan")).length, 1);
  });

  await t.step(
    "external-dns annotations: hostname list and target, without our opt-in",
    async () => {
      await svc.create(ns, "ed", serviceSpec("LoadBalancer"), {
        "external-dns.alpha.kubernetes.io/hostname": "ed.svc.lan., www.ed.svc.lan",
        "external-dns.alpha.kubernetes.io/target": "192.168.60.1",
      });
      const ids = await svc.waitTracked(ns, "ed", ["ed.svc.lan"]);
      const e = await bed.hosts.getHost(ids["ed.svc.lan"]);
      assertEquals([e.ipAddress, e.aliases], ["192.168.60.1", ["www.ed.svc.lan"]]);
      await svc.annotate(ns, "ed", { [`${P}enabled`]: "false" });
      await eventually(
        "opted out: finalizer removed",
        async () => !(await svc.get(ns, "ed")).metadata.finalizers?.includes(FINALIZER),
      );
      assertEquals(await entriesNamed(bed, "ed.svc.lan"), []);
    },
  );

  await t.step("Service deleted → entry deleted, object gone", async () => {
    await svc.delete(ns, "legacy");
    await svc.waitGone(ns, "legacy");
    assertEquals(await entriesNamed(bed, "legacy.svc.lan"), []);
  });
});
