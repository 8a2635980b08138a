/**
 * Observability end to end: `/metrics` scraped from the running operator and
 * parsed, checked against controller-runtime's metric families (names,
 * types, labels, buckets — from pkg/internal/controller/metrics/metrics.go
 * and pkg/metrics/workqueue.go) so its Grafana dashboards work unchanged;
 * counters that move with work; `--metrics-bind-address=0`; and the
 * Kubernetes Events a user sees with `kubectl get events`.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { Scrape } from "../testbed/prometheus.ts";
import { bedTest } from "../testbed/bed.ts";
import { events as eventsOf } from "../testbed/observe.ts";

// ---- controller-runtime's families (pkg/internal/controller/metrics, pkg/metrics) ----

/** Name → [type, label names (without le)]. */
const FAMILIES: Record<string, [string, string[]]> = {
  controller_runtime_reconcile_total: ["counter", ["controller", "result"]],
  controller_runtime_reconcile_errors_total: ["counter", ["controller"]],
  controller_runtime_terminal_reconcile_errors_total: ["counter", ["controller"]],
  controller_runtime_reconcile_time_seconds: ["histogram", ["controller"]],
  controller_runtime_max_concurrent_reconciles: ["gauge", ["controller"]],
  controller_runtime_active_workers: ["gauge", ["controller"]],
  workqueue_depth: ["gauge", ["name", "controller", "priority"]],
  workqueue_adds_total: ["counter", ["name", "controller"]],
  workqueue_queue_duration_seconds: ["histogram", ["name", "controller"]],
  workqueue_work_duration_seconds: ["histogram", ["name", "controller"]],
  workqueue_unfinished_work_seconds: ["gauge", ["name", "controller"]],
  workqueue_longest_running_processor_seconds: ["gauge", ["name", "controller"]],
  workqueue_retries_total: ["counter", ["name", "controller"]],
  leader_election_master_status: ["gauge", ["name"]],
  process_cpu_seconds_total: ["counter", []],
  process_resident_memory_bytes: ["gauge", []],
  router_hosts_grpc_requests_total: ["counter", ["method", "code"]],
  router_hosts_grpc_request_duration_seconds: ["histogram", ["method"]],
  router_hosts_managed_hosts: ["gauge", ["controller"]],
};

/** controller-runtime's ReconcileTime buckets, copied from its source. */
const RECONCILE_TIME_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1.0,
  1.25,
  1.5,
  1.75,
  2.0,
  2.5,
  3.0,
  3.5,
  4.0,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];
/** prometheus.ExponentialBuckets(10e-9, 10, 12), the work-queue histograms' buckets. */
const WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000];
/** client_golang's DefBuckets. */
const DEF_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const HM = { controller: "hostmapping" };
const HM_QUEUE = { name: "hostmapping", controller: "hostmapping" };

/** Every declared family has the right type and help, and every sample exactly the right labels. */
function checkShapes(s: Scrape, requireSamples: boolean): void {
  for (const [name, [type, labelNames]] of Object.entries(FAMILIES)) {
    if (name === "leader_election_master_status") continue;
    const f = s.family(name);
    assertEquals(f.type, type, `TYPE of ${name}`);
    assertOk(f.help.length > 0, `HELP of ${name}`);
    if (requireSamples) assertOk(f.samples.length > 0, `${name} has no samples`);
    for (const sample of f.samples) {
      const want = sample.name.endsWith("_bucket") ? [...labelNames, "le"] : labelNames;
      assertEquals(Object.keys(sample.labels).sort(), want.toSorted(), `labels of ${sample.name}`);
    }
  }
}

/** Numerically equal bucket bounds (the text of `le` may differ: 1e-8 vs Go's 1e-08). */
function checkHistogram(
  s: Scrape,
  name: string,
  labels: Record<string, string>,
  bounds: number[],
): number {
  const buckets = s.buckets(name, labels);
  assertEquals(buckets.map(([le]) => le), [...bounds, Infinity], `buckets of ${name}`);
  for (let i = 1; i < buckets.length; i++) {
    assertOk(buckets[i][1] >= buckets[i - 1][1], `${name} buckets are cumulative`);
  }
  const count = s.value(`${name}_count`, labels);
  assertEquals(buckets.at(-1)![1], count, `${name}: +Inf bucket = _count`);
  assertOk(s.value(`${name}_sum`, labels) >= 0);
  return count;
}

bedTest({ name: "metrics and events" }, async ({ bed, ops, t }) => {
  const { kube, hm, hosts, rh } = bed;
  const op = await ops.start({ args: ["--max-concurrent-reconciles=3"] });
  const scrape = () => op.scrape();
  const ns = await kube.createNamespace(uniqueName("metrics"));
  const events = () => eventsOf(kube, ns);

  await t.step(
    "every family, typed and labelled as controller-runtime's, from the start",
    async () => {
      const s = await scrape();
      checkShapes(s, false);
      for (const result of ["success", "error", "requeue", "requeue_after"]) {
        assertEquals(s.value("controller_runtime_reconcile_total", { ...HM, result }), 0);
      }
      assertEquals(s.value("controller_runtime_reconcile_errors_total", HM), 0);
      assertEquals(s.value("controller_runtime_terminal_reconcile_errors_total", HM), 0);
      assertEquals(s.value("controller_runtime_max_concurrent_reconciles", HM), 3);
      assertEquals(s.value("controller_runtime_active_workers", HM), 0);
      assertEquals(s.value("workqueue_depth", { ...HM_QUEUE, priority: "" }), 0);
      assertEquals(s.value("workqueue_adds_total", HM_QUEUE), 0);
      assertEquals(s.value("workqueue_retries_total", HM_QUEUE), 0);
      assertEquals(s.value("workqueue_unfinished_work_seconds", HM_QUEUE), 0);
      assertEquals(s.value("workqueue_longest_running_processor_seconds", HM_QUEUE), 0);
      assertEquals(s.value("router_hosts_managed_hosts", HM), 0);
      assertOk(s.value("process_cpu_seconds_total") > 0);
      assertOk(s.value("process_resident_memory_bytes") > 10e6);
      // Without --leader-elect there is no lease, so no leader_election_master_status series
      // (controller-runtime does not expose the family either).
      assertEquals(s.samples("leader_election_master_status").length, 0);
    },
  );

  await t.step(
    "counters move with work: 3 created → 3 AddHost, 3 managed; 1 deleted → 2",
    async () => {
      const before = await scrape();
      const names = ["alpha", "beta", "gamma"];
      for (const name of names) {
        await hm.create(ns, name, { hostname: `${name}.metrics.lan`, ip: "10.8.0.1" });
      }
      for (const name of names) await hm.waitSynced(ns, name);
      const grown = (x: Scrape, name: string, labels: Record<string, string>) =>
        x.value(name, labels) - (before.samples(name, labels)[0]?.value ?? 0);
      // A status is visible before its reconcile has returned and been counted: wait for both.
      const s = await eventually("3 managed hosts, 3 reconciles counted", async () => {
        const x = await scrape();
        return x.value("router_hosts_managed_hosts", HM) === 3 &&
            grown(x, "controller_runtime_reconcile_total", { ...HM, result: "success" }) >= 3 &&
            x.value("controller_runtime_active_workers", HM) === 0
          ? x
          : undefined;
      }, 10_000);
      checkShapes(s, true);
      assertEquals(
        grown(s, "router_hosts_grpc_requests_total", { method: "AddHost", code: "OK" }),
        3,
      );
      assertOk(grown(s, "workqueue_adds_total", HM_QUEUE) >= 3);
      assertEquals(s.value("controller_runtime_active_workers", HM), 0);
      assertEquals(s.value("workqueue_depth", { ...HM_QUEUE, priority: "" }), 0);
      assertOk(
        checkHistogram(
          s,
          "controller_runtime_reconcile_time_seconds",
          HM,
          RECONCILE_TIME_BUCKETS,
        ) >=
          3,
      );
      assertOk(
        checkHistogram(s, "workqueue_queue_duration_seconds", HM_QUEUE, WORKQUEUE_BUCKETS) >= 3,
      );
      assertOk(
        checkHistogram(s, "workqueue_work_duration_seconds", HM_QUEUE, WORKQUEUE_BUCKETS) >= 3,
      );
      assertOk(
        checkHistogram(
          s,
          "router_hosts_grpc_request_duration_seconds",
          { method: "AddHost" },
          DEF_BUCKETS,
        ) >= 3,
      );

      await hm.delete(ns, "gamma");
      await hm.waitGone(ns, "gamma");
      const after = await eventually("2 managed hosts", async () => {
        const x = await scrape();
        return x.value("router_hosts_managed_hosts", HM) === 2 ? x : undefined;
      }, 10_000);
      assertEquals(
        grown(after, "router_hosts_grpc_requests_total", { method: "DeleteHost", code: "OK" }),
        1,
      );
    },
  );

  await t.step("kubectl get events shows Recreated and AdoptionRefused", async () => {
    // Deleted on the server behind our back, then noticed: Recreated.
    const alpha = await hm.get(ns, "alpha");
    await hosts.deleteHost(alpha.status!.hostId!);
    await hm.patch(ns, "alpha", { metadata: { annotations: { touch: "1" } } });
    await hm.waitFor(
      ns,
      "alpha",
      "a new host id",
      (x) => x.status?.phase === "Synced" && x.status.hostId !== alpha.status!.hostId,
    );
    // Someone else's entry with our hostname: AdoptionRefused, a terminal error.
    const before = await scrape();
    await hosts.addHost({
      ipAddress: "10.8.0.9",
      hostname: "taken.metrics.lan",
      comment: "mine",
    });
    await hm.create(ns, "taken", { hostname: "taken.metrics.lan", ip: "10.8.0.9" });
    await hm.waitFor(ns, "taken", "phase Error", (x) => x.status?.phase === "Error");
    const table = await eventually("both events in kubectl get events", async () => {
      const res = await kube.kubectl(["get", "events", "-n", ns]);
      assertEquals(res.code, 0, res.stderr);
      return /Recreated/.test(res.stdout) && /AdoptionRefused/.test(res.stdout)
        ? res.stdout
        : undefined;
    });
    assertMatch(table, /Normal\s+Recreated\s+hostmapping\/alpha/);
    assertMatch(table, /Warning\s+AdoptionRefused\s+hostmapping\/taken/);
    const s = await eventually("terminal error counted", async () => {
      const x = await scrape();
      return x.value("controller_runtime_terminal_reconcile_errors_total", HM) >
          before.value("controller_runtime_terminal_reconcile_errors_total", HM)
        ? x
        : undefined;
    }, 10_000);
    assertOk(
      s.value("controller_runtime_reconcile_total", { ...HM, result: "error" }) >
        before.value("controller_runtime_reconcile_total", { ...HM, result: "error" }),
    );
    // A terminal error is not retried.
    assertEquals(
      s.value("workqueue_retries_total", HM_QUEUE),
      before.value("workqueue_retries_total", HM_QUEUE),
    );
  });

  await t.step(
    "a persistent failure: retried with backoff, ONE SyncFailed event whose series grows",
    async () => {
      const before = await scrape();
      // SIGKILL, not a clean stop: a clean stop's GOAWAY can crash Deno 2.9's
      // HTTP/2 client (denoland/deno#36788), which is not what this step is about.
      await rh.kill();
      try {
        const started = performance.now();
        await hm.create(ns, "outage", { hostname: "outage.metrics.lan", ip: "10.8.0.10" });
        const first = await eventually(
          "a SyncFailed event",
          async () =>
            (await events()).find((e) =>
              e.reason === "SyncFailed" && e.regarding.name === "outage"
            ),
        );
        assertEquals(first.type, "Warning");
        const syncFailed = async () => {
          const list = (await events()).filter((e) =>
            e.reason === "SyncFailed" && e.regarding.name === "outage"
          );
          assertEquals(list.length, 1, "one SyncFailed event, not one per retry");
          return list[0];
        };
        const repeating = await eventually(
          "the SyncFailed event repeating (series count 2)",
          async () => {
            const e = await syncFailed();
            return (e.series?.count ?? 1) >= 2 ? e : undefined;
          },
          10_000,
        );
        const repeatingAt = performance.now();
        // Later counts are written at most every 30 s.
        const grown = await eventually("the series count grows", async () => {
          const e = await syncFailed();
          return e.series!.count > repeating.series!.count ? e : undefined;
        }, 45_000);
        console.log(
          `SyncFailed series: count ${repeating.series!.count} after ${
            ((repeatingAt - started) / 1000).toFixed(1)
          } s, ${grown.series!.count} after ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s of outage`,
        );
        assertMatch(grown.series!.lastObservedTime, /\.\d{6}Z$/);
        const s = await scrape();
        const retries = s.value("workqueue_retries_total", HM_QUEUE) -
          before.value("workqueue_retries_total", HM_QUEUE);
        const errors = s.value("controller_runtime_reconcile_errors_total", HM) -
          before.value("controller_runtime_reconcile_errors_total", HM);
        assertOk(retries >= 2, `${retries} retries`);
        assertOk(errors >= retries, `${errors} errors, ${retries} retries`);
        assertEquals(
          s.value("controller_runtime_terminal_reconcile_errors_total", HM),
          before.value("controller_runtime_terminal_reconcile_errors_total", HM),
          "an outage is not terminal",
        );
        const unavailable = s.samples("router_hosts_grpc_requests_total", {
          code: "UNAVAILABLE",
        })
          .reduce((sum, x) => sum + x.value, 0);
        assertOk(unavailable >= retries, `${unavailable} UNAVAILABLE calls`);
        // kubectl reads core/v1 Events: the same Event, the same series.
        const core = await kube.getJson<
          { items: Array<{ reason: string; series?: { count: number } }> }
        >(`/api/v1/namespaces/${ns}/events`);
        const coreSyncFailed = core.items.filter((e) => e.reason === "SyncFailed");
        assertEquals(coreSyncFailed.length, 1);
        assertOk((coreSyncFailed[0].series?.count ?? 0) >= grown.series!.count);
        const table = await kube.kubectl(["get", "events", "-n", ns]);
        assertEquals(table.stdout.match(/SyncFailed\s+hostmapping\/outage/g)?.length, 1);
      } finally {
        await rh.start();
      }
      // The backoff has grown to ~40 s by now; a change reconciles at once.
      await hm.patch(ns, "outage", { metadata: { annotations: { touch: "1" } } });
      await hm.waitSynced(ns, "outage", 60_000);
    },
  );

  await t.step(
    "--metrics-bind-address=0: no metrics listener, probes still served",
    async () => {
      const dark = await ops.start({
        name: "operator-no-metrics",
        args: ["--metrics-bind-address=0"],
      });
      assertEquals(await dark.probe("/healthz"), 200);
      const refused = await dark.metrics().then(() => false, () => true);
      assertOk(refused, "nothing answers on the metrics port");
      const listening = await listeningPorts(dark.process.pid);
      assertEquals(listening, [dark.probePort], "the only listening socket is the probe port");
      const listeners = dark.logs().filter((l) => l.msg === "listening");
      assertEquals(listeners.length, 1);
    },
  );
});

/** TCP ports a process listens on, from /proc (its socket inodes matched against /proc/net/tcp{,6}). */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(await Deno.readLink(`/proc/${pid}/fd/${fd.name}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = await Deno.readTextFile(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local_address rem_address st ... inode (index 9); 0A = LISTEN
      if (cols.length > 9 && cols[3] === "0A" && inodes.has(cols[9])) {
        ports.add(parseInt(cols[1].split(":")[1], 16));
      }
    }
  }
  return [...ports].sort((x, y) => x - y);
}
