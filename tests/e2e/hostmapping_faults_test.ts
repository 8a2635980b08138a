/**
 * The HostMapping controller when its dependencies fail: router-hosts down
 * during create and delete, kube-apiserver restarted and frozen for longer
 * than the watch inactivity window. The operator must recover by itself,
 * without a restart, and lose nothing.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { bedTest, FINALIZER } from "../testbed/bed.ts";
import { sleep, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";

/** The operator's watch inactivity window here (90 s in production: the freeze outlasts it). */
const WATCH_INACTIVITY_MS = 5_000;

bedTest({ name: "HostMapping controller under failures" }, async ({ bed, ops, t }) => {
  const op = await ops.start({
    args: [`--watch-inactivity-timeout=${WATCH_INACTIVITY_MS / 1000}s`],
  });
  const { hm, hosts, rh, kube } = bed;
  const ns = await kube.createNamespace(uniqueName("faults"));
  const errors = async () =>
    (await op.scrape()).sum("controller_runtime_reconcile_errors_total", {
      controller: "hostmapping",
    });

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
      const before = await errors();
      await sleep(4_000);
      const after = await errors();
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
      // A later failed attempt (not just time passing) must leave the object in place too.
      const failed = await errors();
      await eventually(
        "another failed cleanup attempt",
        async () => await errors() > failed,
        60_000,
      );
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
      assertEquals(op.process.exited, false, "no restart of the operator");
    },
  );

  await t.step(
    "kube-apiserver frozen longer than the watch inactivity window: recovers",
    async () => {
      const silent = () =>
        op.logs().filter((l) => l.msg === "watch silent for too long; watching again").length;
      const silentBefore = silent();
      const frozenAt = performance.now();
      await kube.freeze();
      // Frozen past the inactivity window, until the watchdog has ended a dead stream.
      await eventually(
        "the watch watchdog to end a stream of the frozen API server",
        () => performance.now() - frozenAt > WATCH_INACTIVITY_MS && silent() > silentBefore,
        60_000,
      );
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
      assertEquals(op.process.exited, false, "no restart of the operator");
      assertEquals(await op.probe("/healthz"), 200);
    },
  );
});
