import { Registry } from "prom-client";
import { assertEquals, assertMatch, assertOk } from "../tests/assert.ts";
import { Metrics, WORKQUEUE_BUCKETS } from "./metrics.ts";

Deno.test("families are registered on the given registry only", async () => {
  const a = new Metrics(new Registry());
  const b = new Metrics(new Registry());
  a.grpcRequests.inc({ method: "AddHost", code: "OK" });
  const textA = await a.registry.metrics();
  const textB = await b.registry.metrics();
  assertMatch(textA, /router_hosts_grpc_requests_total\{method="AddHost",code="OK"\} 1/);
  assertOk(!/router_hosts_grpc_requests_total\{/.test(textB));
});

Deno.test("the work-queue buckets are ExponentialBuckets(10e-9, 10, 12)", () => {
  assertEquals(WORKQUEUE_BUCKETS, [
    1e-8,
    1e-7,
    1e-6,
    1e-5,
    1e-4,
    1e-3,
    0.01,
    0.1,
    1,
    10,
    100,
    1000,
  ]);
});

Deno.test("process metrics report cumulative CPU time and resident memory", async () => {
  const m = new Metrics(new Registry());
  const text = await m.registry.metrics();
  const cpu = Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
  const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
  assertOk(cpu > 0, `cpu ${cpu}`);
  assertOk(rss > 1_000_000, `rss ${rss}`);
  const again = await m.registry.metrics();
  assertOk(Number(/^process_cpu_seconds_total (\S+)$/m.exec(again)?.[1]) >= cpu, "monotonic");
});

Deno.test("work-queue gauges for in-flight work are read at scrape time", async () => {
  const m = new Metrics(new Registry());
  const hooks = m.workQueue("hostmapping");
  hooks.inFlight(() => ({ unfinishedSeconds: 3.5, longestSeconds: 2 }));
  hooks.depth(4);
  hooks.added();
  const text = await m.registry.metrics();
  assertMatch(
    text,
    /workqueue_unfinished_work_seconds\{name="hostmapping",controller="hostmapping"\} 3.5/,
  );
  assertMatch(
    text,
    /workqueue_longest_running_processor_seconds\{name="hostmapping",controller="hostmapping"\} 2/,
  );
  assertMatch(text, /workqueue_depth\{name="hostmapping",controller="hostmapping",priority=""\} 4/);
  assertMatch(text, /workqueue_adds_total\{name="hostmapping",controller="hostmapping"\} 1/);
});

Deno.test("leader election and managed-host gauges have their labels", async () => {
  const m = new Metrics(new Registry());
  m.leaderElectionMasterStatus.set({ name: "router-hosts-operator.fzymgc.house" }, 1);
  m.managedHosts.set({ controller: "hostmapping" }, 12);
  m.grpcRequestDuration.observe({ method: "GetHost" }, 0.003);
  const text = await m.registry.metrics();
  assertMatch(text, /leader_election_master_status\{name="router-hosts-operator.fzymgc.house"\} 1/);
  assertMatch(text, /router_hosts_managed_hosts\{controller="hostmapping"\} 12/);
  assertMatch(
    text,
    /router_hosts_grpc_request_duration_seconds_bucket\{le="0.005",method="GetHost"\} 1/,
  );
});

Deno.test("the runtime's reconcile hooks move controller-runtime's families", async () => {
  const m = new Metrics(new Registry());
  m.initController("service", 4);
  m.reconcileStarted("service");
  let text = await m.registry.metrics();
  assertMatch(text, /controller_runtime_active_workers\{controller="service"\} 1/);
  m.reconcileFailed("service", true);
  m.reconcileFinished("service", "error", 0.02);
  text = await m.registry.metrics();
  assertMatch(text, /controller_runtime_active_workers\{controller="service"\} 0/);
  assertMatch(text, /controller_runtime_reconcile_total\{controller="service",result="error"\} 1/);
  assertMatch(text, /controller_runtime_reconcile_errors_total\{controller="service"\} 1/);
  assertMatch(text, /controller_runtime_terminal_reconcile_errors_total\{controller="service"\} 1/);
  assertMatch(
    text,
    /controller_runtime_reconcile_time_seconds_bucket\{le="0.025",controller="service"\} 1/,
  );
  assertMatch(text, /controller_runtime_max_concurrent_reconciles\{controller="service"\} 4/);
});
