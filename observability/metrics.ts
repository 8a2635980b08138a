/**
 * The Prometheus metric families of the operator, registered on a registry
 * passed in (never prom-client's global one).
 *
 * Names, labels and buckets of the controller and work-queue families are
 * controller-runtime's (pkg/internal/controller/metrics/metrics.go and
 * pkg/metrics/workqueue.go), so dashboards made for Go operators work.
 *
 * Process metrics: prom-client's `collectDefaultMetrics` runs on Deno but
 * is wrong there — its `process_cpu_seconds_total` counts only from the
 * moment it was registered, and its nodejs_eventloop_lag_* series report
 * NaN and garbage — so the two process families we need are computed here
 * from `process.cpuUsage()` and `Deno.memoryUsage()`.
 *
 * @module
 */
import process from "node:process";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  type ControllerMetrics,
  RECONCILE_RESULTS,
  type ReconcileResult,
} from "../k8s/controller_metrics.ts";
import type { QueueMetrics } from "../k8s/queue.ts";

/** controller-runtime's reconcile_time_seconds buckets. */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
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

/** prometheus.ExponentialBuckets(10e-9, 10, 12): 1e-8 s … 1000 s, the work-queue buckets. */
export const WORKQUEUE_BUCKETS: readonly number[] = Array.from(
  { length: 12 },
  (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)),
);

/** Prometheus client_golang's DefBuckets, for gRPC call durations. */
export const GRPC_DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

type QueueLabels = "name" | "controller";

/** All metric families, created on one registry; the runtime sees only {@link ControllerMetrics}. */
export class Metrics implements ControllerMetrics {
  /** The registry the families live on; serve it at /metrics. */
  readonly registry: Registry;

  /** controller_runtime_reconcile_total{controller,result} */
  readonly reconcileTotal: Counter<"controller" | "result">;
  /** controller_runtime_reconcile_errors_total{controller} */
  readonly reconcileErrors: Counter<"controller">;
  /** controller_runtime_terminal_reconcile_errors_total{controller} */
  readonly terminalReconcileErrors: Counter<"controller">;
  /** controller_runtime_reconcile_time_seconds{controller} */
  readonly reconcileTime: Histogram<"controller">;
  /** controller_runtime_max_concurrent_reconciles{controller} */
  readonly maxConcurrentReconciles: Gauge<"controller">;
  /** controller_runtime_active_workers{controller} */
  readonly activeWorkers: Gauge<"controller">;

  /** workqueue_depth{name,controller,priority} */
  readonly workqueueDepth: Gauge<QueueLabels | "priority">;
  /** workqueue_adds_total{name,controller} */
  readonly workqueueAdds: Counter<QueueLabels>;
  /** workqueue_queue_duration_seconds{name,controller} */
  readonly workqueueQueueDuration: Histogram<QueueLabels>;
  /** workqueue_work_duration_seconds{name,controller} */
  readonly workqueueWorkDuration: Histogram<QueueLabels>;
  /** workqueue_unfinished_work_seconds{name,controller} */
  readonly workqueueUnfinishedWork: Gauge<QueueLabels>;
  /** workqueue_longest_running_processor_seconds{name,controller} */
  readonly workqueueLongestRunning: Gauge<QueueLabels>;
  /** workqueue_retries_total{name,controller} */
  readonly workqueueRetries: Counter<QueueLabels>;

  /** leader_election_master_status{name}: 1 while this process leads. */
  readonly leaderElectionMasterStatus: Gauge<"name">;

  /** router_hosts_grpc_requests_total{method,code} */
  readonly grpcRequests: Counter<"method" | "code">;
  /** router_hosts_grpc_request_duration_seconds{method} */
  readonly grpcRequestDuration: Histogram<"method">;
  /** router_hosts_settle_writes_total{result}: no-op UpdateHosts after overlapping writes (grpc/settle.ts). */
  readonly settleWrites: Counter<"result">;
  /** router_hosts_managed_hosts{controller}: host entries a controller owns. */
  readonly managedHosts: Gauge<"controller">;
  /** router_hosts_hostname_conflicts{controller}: hostnames another object holds, now. */
  readonly hostnameConflicts: Gauge<"controller">;
  /** router_hosts_orphans_deleted_total{controller}: entries the orphan sweep deleted. */
  readonly orphansDeleted: Counter<"controller">;

  /** process_cpu_seconds_total */
  readonly processCpuSeconds: Counter;
  /** process_resident_memory_bytes */
  readonly processResidentMemory: Gauge;

  /** Work-queue probes read at scrape time, by queue name. */
  readonly #queueProbes = new Map<
    string,
    { controller: string; probe: () => { unfinishedSeconds: number; longestSeconds: number } }
  >();

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    const probes = this.#queueProbes;

    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: [...RECONCILE_TIME_BUCKETS],
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });

    this.workqueueDepth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue by workqueue and priority",
      labelNames: ["name", "controller", "priority"],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames: ["name", "controller"],
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames: ["name", "controller"],
      buckets: [...WORKQUEUE_BUCKETS],
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames: ["name", "controller"],
      buckets: [...WORKQUEUE_BUCKETS],
      registers,
    });
    this.workqueueUnfinishedWork = new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help: "How many seconds of work has been done that is in progress and hasn't been " +
        "observed by work_duration. Large values indicate stuck threads. One can deduce the " +
        "number of stuck threads by observing the rate at which this increases.",
      labelNames: ["name", "controller"],
      registers,
      collect() {
        for (const [name, q] of probes) {
          this.set({ name, controller: q.controller }, q.probe().unfinishedSeconds);
        }
      },
    });
    this.workqueueLongestRunning = new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames: ["name", "controller"],
      registers,
      collect() {
        for (const [name, q] of probes) {
          this.set({ name, controller: q.controller }, q.probe().longestSeconds);
        }
      },
    });
    this.workqueueRetries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: ["name", "controller"],
      registers,
    });

    this.leaderElectionMasterStatus = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates " +
        "backup, 1 indicates master. 'name' is the string used to identify the lease.",
      labelNames: ["name"],
      registers,
    });

    this.grpcRequests = new Counter({
      name: "router_hosts_grpc_requests_total",
      help: "gRPC calls to router-hosts by method and status code",
      labelNames: ["method", "code"],
      registers,
    });
    this.grpcRequestDuration = new Histogram({
      name: "router_hosts_grpc_request_duration_seconds",
      help: "Duration of gRPC calls to router-hosts by method",
      labelNames: ["method"],
      buckets: [...GRPC_DURATION_BUCKETS],
      registers,
    });
    this.settleWrites = new Counter({
      name: "router_hosts_settle_writes_total",
      help:
        "No-op UpdateHost calls sent after overlapping writes so the server's hosts file holds every commit, by result (ok, not_found, failed; skipped when router-hosts holds no entry to carry it)",
      labelNames: ["result"],
      registers,
    });
    this.managedHosts = new Gauge({
      name: "router_hosts_managed_hosts",
      help: "Host entries on router-hosts owned by objects of each controller",
      labelNames: ["controller"],
      registers,
    });
    this.hostnameConflicts = new Gauge({
      name: "router_hosts_hostname_conflicts",
      help:
        "Hostnames that objects of each controller want but another object holds (the holder keeps them)",
      labelNames: ["controller"],
      registers,
    });
    this.orphansDeleted = new Counter({
      name: "router_hosts_orphans_deleted_total",
      help:
        "Entries the orphan sweep deleted because their object no longer exists, by the controller of that kind",
      labelNames: ["controller"],
      registers,
    });

    this.processCpuSeconds = processCpuCounter(registry);
    this.processResidentMemory = new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }

  /**
   * Creates the series of controller `name` at their zero values (all four
   * reconcile results, errors, workers) so rates exist before the first
   * event, as controller-runtime does.
   */
  initController(name: string, maxConcurrentReconciles: number): void {
    for (const result of RECONCILE_RESULTS) {
      this.reconcileTotal.inc({ controller: name, result }, 0);
    }
    this.reconcileErrors.inc({ controller: name }, 0);
    this.terminalReconcileErrors.inc({ controller: name }, 0);
    this.maxConcurrentReconciles.set({ controller: name }, maxConcurrentReconciles);
    this.activeWorkers.set({ controller: name }, 0);
  }

  /** active_workers up. */
  reconcileStarted(controller: string): void {
    this.activeWorkers.inc({ controller });
  }

  /** active_workers down, reconcile_time observed, reconcile_total counted. */
  reconcileFinished(controller: string, result: ReconcileResult, seconds: number): void {
    this.activeWorkers.dec({ controller });
    this.reconcileTime.observe({ controller }, seconds);
    this.reconcileTotal.inc({ controller, result });
  }

  /** reconcile_errors_total, and terminal_reconcile_errors_total when `terminal`. */
  reconcileFailed(controller: string, terminal: boolean): void {
    this.reconcileErrors.inc({ controller });
    if (terminal) this.terminalReconcileErrors.inc({ controller });
  }

  /**
   * The hooks for work queue `name` (controller-runtime labels both `name`
   * and `controller` with the controller's name).
   */
  workQueue(name: string, controller: string = name): QueueMetrics {
    const labels = { name, controller };
    const depthLabels = { ...labels, priority: "" };
    this.workqueueDepth.set(depthLabels, 0);
    this.workqueueAdds.inc(labels, 0);
    this.workqueueRetries.inc(labels, 0);
    return {
      depth: (n) => this.workqueueDepth.set(depthLabels, n),
      added: () => this.workqueueAdds.inc(labels),
      queued: (seconds) => this.workqueueQueueDuration.observe(labels, seconds),
      worked: (seconds) => this.workqueueWorkDuration.observe(labels, seconds),
      retried: () => this.workqueueRetries.inc(labels),
      inFlight: (probe) => this.#queueProbes.set(name, { controller, probe }),
    };
  }
}

/**
 * process_cpu_seconds_total since the process started: `process.cpuUsage()`
 * is cumulative, and the counter is advanced to it at each scrape.
 */
function processCpuCounter(registry: Registry): Counter {
  let reported = 0;
  return new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers: [registry],
    collect() {
      const usage = process.cpuUsage();
      const total = (usage.user + usage.system) / 1e6;
      if (total > reported) {
        this.inc(total - reported);
        reported = total;
      }
    },
  });
}
