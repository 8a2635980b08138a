/**
 * High availability end to end: several operator processes with
 * `--leader-elect` against one real kube-apiserver. Exactly one reconciles;
 * a standby takes over after the leader is killed (lease expiry) or shuts
 * down cleanly (lease released), and a shutdown with reconciles in flight
 * drains, releases the Lease and exits 0.
 *
 * Failover times are measured and printed; the assertions use generous
 * bounds so a loaded CI machine does not make them flaky. What happens to
 * the Lease is read from a watch started before any of it, never from a
 * single GET after the fact: by then a standby may already have moved it on.
 */
import { LEASE_NAME } from "../../main.ts";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { type KubeTestbed, uniqueName } from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import { bedTest } from "../testbed/bed.ts";

interface Lease {
  metadata: { resourceVersion: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** A Lease change as a watch delivered it, with the local time it arrived. */
interface LeaseChange {
  at: number;
  holder: string;
  transitions: number;
  renewTime: string;
  leaseDurationSeconds: number;
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

async function masterStatus(op: OperatorProcess): Promise<number> {
  return (await op.scrape()).value("leader_election_master_status", { name: LEASE_NAME });
}

/** The identity a process campaigns with (from its "waiting to acquire" log line). */
function identityOf(op: OperatorProcess): string {
  const line = op.logs().find((l) => l.msg === "waiting to acquire the leader lease");
  assertOk(typeof line?.identity === "string", `no identity in the log of ${op.logPath}`);
  return line.identity as string;
}

/** Collects every change of the Lease from a watch until stopped. */
function watchLease(kube: KubeTestbed, ns: string): { changes: LeaseChange[]; stop(): void } {
  const changes: LeaseChange[] = [];
  const abort = new AbortController();
  (async () => {
    const res = await kube.fetch(
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases?watch=true&fieldSelector=${
        encodeURIComponent(`metadata.name=${LEASE_NAME}`)
      }`,
      { signal: abort.signal },
    );
    let buffered = "";
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: Lease };
        if (ev.type !== "ADDED" && ev.type !== "MODIFIED") continue;
        const s = ev.object.spec;
        changes.push({
          at: performance.now(),
          holder: s.holderIdentity ?? "",
          transitions: s.leaseTransitions ?? 0,
          renewTime: s.renewTime ?? "",
          leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
        });
      }
    }
  })().catch(() => {});
  return { changes, stop: () => abort.abort() };
}

bedTest(
  { name: "leader election: one active replica, failover on kill and on shutdown" },
  async ({ bed, ops, t }) => {
    let watch: { changes: LeaseChange[]; stop(): void } | undefined;
    try {
      const { kube, hm, rh } = bed;
      const ns = await kube.createNamespace(uniqueName("ha"));
      const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${LEASE_NAME}`;
      const getLease = () => kube.getJson<Lease>(leasePath);
      const start = (name: string) =>
        ops.start({ name, args: ["--leader-elect", `--leader-election-namespace=${ns}`] });
      const leaderAmong = async (candidates: OperatorProcess[]) => {
        const status = await Promise.all(candidates.map(masterStatus));
        const leading = candidates.filter((_, i) => status[i] === 1);
        return leading.length === 1 &&
            status.filter((s) => s === 0).length === candidates.length - 1
          ? leading[0]
          : undefined;
      };
      const [a, b] = await Promise.all([start("operator-a"), start("operator-b")]);
      let leader: OperatorProcess = a;
      let standby: OperatorProcess = b;
      watch = watchLease(kube, ns);

      await t.step(
        "exactly one replica leads; the Lease names it with MicroTime stamps",
        async () => {
          leader = await eventually("one leader and one standby", () => leaderAmong([a, b]));
          standby = leader === a ? b : a;
          const lease = await getLease();
          assertEquals(lease.spec.holderIdentity, identityOf(leader));
          assertOk(identityOf(a) !== identityOf(b), "identities are unique per process");
          assertEquals(lease.spec.leaseDurationSeconds, 15);
          assertMatch(lease.spec.renewTime!, MICRO_TIME);
          assertMatch(lease.spec.acquireTime!, MICRO_TIME);
          // The leader renews every retry period (2 s) without a new transition.
          const renewed = await eventually("a renewal", async () => {
            const l = await getLease();
            return l.spec.renewTime !== lease.spec.renewTime ? l : undefined;
          }, 10_000);
          assertEquals(renewed.spec.holderIdentity, lease.spec.holderIdentity);
          assertEquals(renewed.spec.leaseTransitions, lease.spec.leaseTransitions);
          assertEquals(renewed.spec.acquireTime, lease.spec.acquireTime);
          assertMatch(renewed.spec.renewTime!, MICRO_TIME);
          for (const op of [leader, standby]) {
            assertEquals(await op.probe("/healthz"), 200);
            assertEquals(await op.probe("/readyz"), 200);
          }
          assertOk(leader.logs().some((l) => l.msg === "controller started"));
          assertEquals(standby.logs().some((l) => l.msg === "controller started"), false);
        },
      );

      await t.step("only the leader reconciles and calls router-hosts", async () => {
        for (const name of ["one", "two", "three"]) {
          await hm.create(ns, name, { hostname: `${name}.ha.lan`, ip: "10.7.0.1" });
        }
        for (const name of ["one", "two", "three"]) await hm.waitSynced(ns, name);
        const lm = await leader.scrape();
        const sm = await standby.scrape();
        assertOk(
          lm.sum("router_hosts_grpc_requests_total", { method: "AddHost", code: "OK" }) >= 3,
        );
        assertEquals(
          sm.sum("router_hosts_grpc_requests_total", { method: "AddHost" }),
          0,
          "the standby made AddHost calls",
        );
        assertEquals(
          sm.sum("router_hosts_grpc_requests_total"),
          0,
          "the standby made gRPC calls",
        );
        assertEquals(sm.sum("controller_runtime_reconcile_total"), 0);
        // As in controller-runtime, a standby's work queue stays empty (no alert on its depth).
        assertEquals(sm.value("workqueue_depth", { name: "hostmapping" }), 0);
        assertEquals(sm.value("workqueue_adds_total", { name: "hostmapping" }), 0);
        // A status is visible before its reconcile has returned and been counted.
        await eventually(
          "the leader counted three successful reconciles",
          async () =>
            (await leader.scrape()).sum("controller_runtime_reconcile_total", {
              result: "success",
            }) >= 3,
        );
        for (const op of [leader, standby]) {
          assertEquals(await op.probe("/healthz"), 200);
          assertEquals(await op.probe("/readyz"), 200);
        }
      });

      await t.step("kill -9 of the leader → the standby takes over and converges", async () => {
        const before = await getLease();
        const killed = leader;
        const killedAt = performance.now();
        killed.process.signal("SIGKILL");
        await killed.process.status;
        await hm.create(ns, "after-kill", { hostname: "after-kill.ha.lan", ip: "10.7.0.2" });
        await hm.waitSynced(ns, "after-kill", 40_000);
        const killToConverged = performance.now() - killedAt;
        console.log(
          `kill -9 of the leader → new leader converged a new HostMapping in ${
            (killToConverged / 1000).toFixed(1)
          } s`,
        );
        const lease = await getLease();
        assertEquals(lease.spec.holderIdentity, identityOf(standby));
        assertEquals(lease.spec.leaseTransitions, (before.spec.leaseTransitions ?? 0) + 1);
        assertMatch(lease.spec.acquireTime!, MICRO_TIME);
        assertEquals(await masterStatus(standby), 1);
        // The new leader queued every cached object when it took over, not only the new one
        // (the others may still be in its queue when the new one is synced).
        await eventually(
          "the new leader reconciled all four HostMappings",
          async () =>
            (await standby.scrape()).sum("controller_runtime_reconcile_total", {
              result: "success",
            }) >= 4,
        );
        leader = standby;
      });

      await t.step(
        "SIGTERM of the leader → exit 0, Lease released, the standby leads",
        async () => {
          standby = await start("operator-c");
          assertEquals(await masterStatus(standby), 0);
          const before = await getLease();
          const stopping = leader;
          const newIdentity = identityOf(standby);
          const seen = watch!.changes.length;
          const sentAt = performance.now();
          stopping.process.signal("SIGTERM");
          const status = await stopping.process.status;
          const exitedAt = performance.now();
          assertEquals(status.code, 0, "a clean shutdown exits 0");
          const taken = await eventually(
            "the standby holds the Lease",
            () => watch!.changes.slice(seen).find((c) => c.holder === newIdentity),
            20_000,
          );
          const released = watch!.changes.slice(seen).find((c) => c.holder === "");
          assertOk(released, 'the Lease was released (holderIdentity "") before the takeover');
          assertEquals(released.leaseDurationSeconds, 1);
          assertMatch(released.renewTime, MICRO_TIME);
          assertEquals(taken.transitions, (before.spec.leaseTransitions ?? 0) + 1);
          console.log(
            `SIGTERM of the leader → exit after ${((exitedAt - sentAt) / 1000).toFixed(1)} s; ` +
              `released after ${((released.at - sentAt) / 1000).toFixed(1)} s; ` +
              `new leader after ${((taken.at - sentAt) / 1000).toFixed(1)} s ` +
              `(${((taken.at - released.at) / 1000).toFixed(1)} s after the release)`,
          );
          assertOk(taken.at - sentAt < 10_000, "the standby took over within 10 s");
          const logs = stopping.logs().map((l) => l.msg);
          assertOk(logs.includes("received SIGTERM"));
          assertOk(logs.includes("released the leader lease"));
          assertOk(logs.includes("stopped"));
          leader = standby;
          await eventually(
            "master status 1 on the new leader",
            async () => (await masterStatus(leader)) === 1,
          );
          await hm.create(ns, "after-term", { hostname: "after-term.ha.lan", ip: "10.7.0.3" });
          await hm.waitSynced(ns, "after-term");
        },
      );

      await t.step(
        "SIGTERM with reconciles in flight → drained, Lease released, exit 0",
        async () => {
          rh.pause();
          try {
            await hm.create(ns, "in-flight", { hostname: "in-flight.ha.lan", ip: "10.7.0.4" });
            await eventually(
              "a reconcile in flight",
              async () => (await leader.scrape()).sum("controller_runtime_active_workers") >= 1,
            );
            const seen = watch!.changes.length;
            const sentAt = performance.now();
            leader.process.signal("SIGTERM");
            const status = await leader.process.status;
            const seconds = (performance.now() - sentAt) / 1000;
            console.log(
              `SIGTERM with a reconcile in flight → exit ${status.code} after ${
                seconds.toFixed(1)
              } s`,
            );
            assertEquals(status.code, 0);
            // The drain bound is 25 s, under the pod's 30 s grace period.
            assertOk(seconds < 30, `shutdown took ${seconds} s`);
            const released = await eventually(
              "the release in the Lease's history",
              () => watch!.changes.slice(seen).find((c) => c.holder === ""),
              10_000,
            );
            assertEquals(released.leaseDurationSeconds, 1);
            // No other replica runs now, so the release is also where the Lease stays: the
            // exiting process must not take it back (nor keep it) after releasing it.
            assertEquals((await getLease()).spec.holderIdentity, "");
            const logs = leader.logs().map((l) => l.msg);
            for (
              const msg of [
                "received SIGTERM",
                "shutting down: draining reconciles",
                "released the leader lease",
                "stopped",
              ]
            ) {
              assertOk(logs.includes(msg), `log lacks "${msg}"`);
            }
          } finally {
            rh.resume();
          }
        },
      );
    } finally {
      watch?.stop();
    }
  },
);
