/**
 * The HostMapping controller when its dependencies fail: router-hosts down
 * during create and delete, kube-apiserver restarted and frozen for longer
 * than the watch inactivity window. The operator must recover by itself,
 * without a restart, and lose nothing.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { dumpLogs, sleep, uniqueName } from "../testbed/mod.ts";
import { metricSum, type OperatorProcess, startOperator } from "../testbed/operator.ts";
import { type Bed, FINALIZER, startBed, stopBed } from "./fixture.ts";

Deno.test({
  name: "HostMapping controller under failures",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const bed: Bed = await startBed();
  let op: OperatorProcess | undefined;
  try {
    op = await startOperator({ kubeconfigPath: bed.kube.kubeconfigPath, routerHosts: bed.rh });
    const { hm, hosts, rh, kube } = bed;
    const ns = await kube.createNamespace(uniqueName("faults"));

    await t.step(
      "server down: create → phase Error with the reason, retried with backoff; back → Synced",
      async () => {
        await rh.kill();
        await hm.create(ns, "cam", { hostname: "cam.lan", ip: "10.3.0.1" });
        const o = await hm.waitFor(ns, "cam", "phase Error", (x) => x.status?.phase === "Error");
        assertMatch(o.status!.message!, /router-hosts at localhost:\d+: \w+: UNAVAILABLE/);
        assertEquals(
          o.status!.conditions!.find((c) => c.type === "Synced")?.reason,
          "ServerUnavailable",
        );
        assertOk(
          o.metadata.finalizers?.includes(FINALIZER),
          "finalizer added before any server write",
        );
        // Backoff, not a hot loop: a few seconds of outage cost a bounded number of attempts.
        const before = metricSum(
          await op!.metrics(),
          "controller_runtime_reconcile_errors_total",
          'controller="hostmapping"',
        );
        await sleep(4_000);
        const after = metricSum(
          await op!.metrics(),
          "controller_runtime_reconcile_errors_total",
          'controller="hostmapping"',
        );
        assertOk(after - before <= 12, `${after - before} failed reconciles in 4 s`);
        await rh.start();
        const synced = await hm.waitSynced(ns, "cam", 60_000);
        assertEquals((await hosts.getHost(synced.status!.hostId!)).hostname, "cam.lan");
      },
    );

    await t.step(
      "server down: delete keeps the object (finalizer) until cleanup succeeds",
      async () => {
        const id = (await hm.get(ns, "cam")).status!.hostId!;
        await rh.kill();
        await hm.delete(ns, "cam");
        const o = await hm.waitFor(
          ns,
          "cam",
          "cleanup failure in status",
          (x) => x.status?.phase === "Error" && /cleanup/.test(x.status.message ?? ""),
        );
        assertOk(o.metadata.deletionTimestamp);
        assertOk(o.metadata.finalizers?.includes(FINALIZER));
        await sleep(2_000);
        assertOk(await hm.exists(ns, "cam"), "object stays while the server is down");
        await rh.start();
        await hm.waitGone(ns, "cam", 60_000);
        const err = await hosts.getHost(id).then(() => undefined, (e) => e);
        assertEquals(err?.outcome, "not-found");
      },
    );

    await t.step(
      "kube-apiserver restarted: the operator recovers and converges changes",
      async () => {
        await hm.create(ns, "before", { hostname: "before.lan", ip: "10.3.0.2" });
        await hm.waitSynced(ns, "before");
        await kube.restartApiserver();
        await hm.create(ns, "after", { hostname: "after.lan", ip: "10.3.0.3" });
        await hm.patch(ns, "before", { spec: { ip: "10.3.0.4" } });
        await hm.waitSynced(ns, "after", 90_000);
        const b = await hm.waitFor(
          ns,
          "before",
          "ip 10.3.0.4 synced",
          (x) =>
            x.status?.phase === "Synced" &&
            x.status.conditions?.[0]?.observedGeneration === x.metadata.generation,
          90_000,
        );
        assertEquals((await hosts.getHost(b.status!.hostId!)).ipAddress, "10.3.0.4");
        assertEquals(op!.process.exited, false, "no restart of the operator");
      },
    );

    await t.step(
      "kube-apiserver frozen longer than the watch inactivity window: recovers",
      async () => {
        kube.freeze();
        // The watch watchdog is 90 s; stay frozen past it so the operator must notice a dead stream.
        await sleep(100_000);
        kube.thaw();
        await hm.create(ns, "thawed", { hostname: "thawed.lan", ip: "10.3.0.5" });
        await hm.patch(ns, "after", { spec: { tags: ["thawed"] } });
        await hm.waitSynced(ns, "thawed", 120_000);
        const a = await hm.waitFor(
          ns,
          "after",
          "tags synced",
          (x) =>
            x.status?.conditions?.[0]?.observedGeneration === x.metadata.generation &&
            x.status.phase === "Synced",
          120_000,
        );
        assertEquals((await hosts.getHost(a.status!.hostId!)).tags, ["thawed"]);
        assertEquals(op!.process.exited, false, "no restart of the operator");
        assertEquals(await op!.probe("/healthz"), 200);
      },
    );
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    await op?.stop();
    await stopBed(bed);
  }
});
