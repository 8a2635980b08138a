/**
 * `deno task bench`: end-to-end load benchmarks on the real test bed.
 *
 * Scenarios (each on a fresh bed, repeated --repeat times; medians with
 * min–max are reported):
 * - converge: N HostMappings created at once → seconds until all are Synced,
 *   with gRPC calls per object by method and Kubernetes writes per object;
 *   then the physical limit: the same N AddHost calls from a bare client at
 *   the same concurrency, and N status writes from a bare client; and one
 *   full resync after convergence (writes must be 0; CPU seconds spent).
 * - sweep: converge for --max-concurrent-reconciles 1, 2, 4, 8, 16.
 * - latency: create → Synced of single objects on an idle bed (median, p99).
 * - memory: operator RSS idle; its peak while converging N HostMappings; and
 *   with --memory-hm HostMappings + --memory-ir IngressRoutes cached and in
 *   sync (entries seeded on the server, objects created before the operator
 *   starts: see memory()).
 *
 * Usage: deno task bench [converge|sweep|latency|memory|routes ...] [--n=1000] [--workers=4]
 *        [--repeat=3] [--latency-n=100] [--memory-hm=10000] [--memory-ir=2000] [--routes=200]
 * Results: a table on stdout and JSON in bench/results/.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RouterHostsClient } from "../grpc/client.ts";
import { loadTlsMaterial } from "../grpc/tls.ts";
import { type HostMappingObject, HostMappings } from "../tests/testbed/bed.ts";
import { metricSum, Scrape } from "../tests/testbed/prometheus.ts";
import {
  installCrds,
  type KubeTestbed,
  type RouterHostsTestbed,
  sleep,
  startKube,
  startRouterHosts,
} from "../tests/testbed/mod.ts";
import { type OperatorProcess, startOperator } from "../tests/testbed/operator.ts";
import { HostsStore } from "../tests/testbed/router_hosts_emulator/store.ts";

const { values: opts, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    n: { type: "string", default: "1000" },
    workers: { type: "string", default: "4" },
    repeat: { type: "string", default: "3" },
    "latency-n": { type: "string", default: "100" },
    "memory-hm": { type: "string", default: "10000" },
    "memory-ir": { type: "string", default: "2000" },
    routes: { type: "string", default: "200" },
    "hosts-per-route": { type: "string", default: "5" },
  },
});
const N = Number(opts.n);
const WORKERS = Number(opts.workers);
const REPEAT = Number(opts.repeat);
const scenarios = positionals.length ? positionals : ["converge", "latency", "memory"];
const INGRESS_IP = "10.200.0.1";
/** Concurrency of the bench's own object creation (the "at once"). */
const CREATE_CONCURRENCY = 32;

interface Bed {
  kube: KubeTestbed;
  rh: RouterHostsTestbed;
  hosts: RouterHostsClient;
  hm: HostMappings;
}

async function clientFor(rh: RouterHostsTestbed): Promise<RouterHostsClient> {
  return new RouterHostsClient({
    address: rh.address,
    deadlineMs: 30_000,
    tls: await loadTlsMaterial({
      caPath: rh.caPath,
      certPath: rh.clientCertPath,
      keyPath: rh.clientKeyPath,
    }),
  });
}

async function startBedFor(): Promise<Bed> {
  const kube = await startKube();
  const rh = await startRouterHosts();
  await installCrds(kube, "router-hosts", "traefik");
  return { kube, rh, hosts: await clientFor(rh), hm: new HostMappings(kube) };
}

/**
 * Replaces the router-hosts server with an empty one, so the bare-client
 * limit starts from the same state as the operator's run did.
 */
async function freshServer(bed: Bed): Promise<void> {
  bed.hosts.close();
  await bed.rh.dispose();
  bed.rh = await startRouterHosts();
  bed.hosts = await clientFor(bed.rh);
}

async function stopBedFor(bed: Bed): Promise<void> {
  bed.hosts.close();
  await bed.rh.dispose();
  await bed.kube.stop();
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** Sums a Prometheus counter's samples whose labels include every part (`method="AddHost"`). */
const sample = metricSum;

async function apiserverMetrics(kube: KubeTestbed): Promise<string> {
  const res = await kube.fetch("/metrics");
  return await res.text();
}

/** Kubernetes writes to a resource (and subresource) from apiserver_request_total. */
function kubeWrites(metrics: string, resource: string, subresource = ""): number {
  const scrape = new Scrape(metrics);
  return ["POST", "PUT", "PATCH", "DELETE"].reduce(
    (total, verb) => total + scrape.sum("apiserver_request_total", { verb, resource, subresource }),
    0,
  );
}

/** CPU seconds (user + system) of a process, from /proc (clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Pids of the test-bed components, found by their command lines. */
function componentPids(operatorPid: number): Record<string, number> {
  const found: Record<string, number> = { operator: operatorPid, bench: Deno.pid };
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let cmd = "";
    try {
      cmd = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
    } catch {
      continue;
    }
    const pid = Number(entry.name);
    if (/\/kube-apiserver /.test(cmd)) found["kube-apiserver"] = pid;
    else if (/\/etcd /.test(cmd)) found.etcd = pid;
    else if (
      /router-hosts-emulator(-[0-9a-f]+)?\.mjs serve|router_hosts_emulator\/main\.ts serve/.test(
        cmd,
      ) &&
      !cmd.startsWith("sh ")
    ) {
      found["router-hosts"] = pid;
    }
  }
  return found;
}

function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuOf(pid)]));
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = xs.toSorted((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s.at(-1)! };
}

function quantile(xs: number[], q: number): number {
  const s = xs.toSorted((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const fmt = (x: number, d = 2) => x.toFixed(d);
const fmtStats = (s: { median: number; min: number; max: number }, d = 2) =>
  `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`;

/**
 * Resolves when `count` HostMappings of `ns` are Synced, watching (not
 * polling: a LIST of 1,000 objects every 100 ms costs the apiserver more CPU
 * than the operator's own writes). Start it before creating the objects.
 */
function watchSynced(
  bed: Bed,
  ns: string,
  count: number,
): { done: Promise<void>; stop: () => void } {
  const ctl = new AbortController();
  const done = (async () => {
    const synced = new Set<string>();
    // A watch without resourceVersion starts with every existing object, so
    // re-opening one that ended loses nothing.
    while (synced.size < count) {
      const res = await bed.kube.fetch(`${bed.hm.path(ns)}?watch=1`, { signal: ctl.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      while (synced.size < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as { type: string; object: HostMappingObject };
          if (ev.object.status?.phase === "Synced") synced.add(ev.object.metadata.name);
        }
      }
    }
    ctl.abort();
  })();
  return { done, stop: () => ctl.abort() };
}

interface ConvergeRun {
  workers: number;
  n: number;
  createSeconds: number;
  convergeSeconds: number;
  grpcPerObject: Record<string, number>;
  kubeWritesPerObject: { object: number; status: number };
  limitGrpcSeconds: number;
  limitStatusSeconds: number;
  ratio: number;
  resync?: { grpcWrites: number; kubeWrites: number; cpuSeconds: number; seconds: number };
  /** CPU seconds each process spent during convergence. */
  cpuSeconds: Record<string, number>;
}

async function converge(workers: number, withResync: boolean): Promise<ConvergeRun> {
  const bed = await startBedFor();
  let op: OperatorProcess | undefined;
  try {
    const resyncSeconds = 20;
    op = await startOperator({
      kubeconfigPath: bed.kube.kubeconfigPath,
      routerHosts: bed.rh,
      args: [
        `--max-concurrent-reconciles=${workers}`,
        `--log-level=${Deno.env.get("BENCH_LOG_LEVEL") ?? "warn"}`,
        `--resync-period=${withResync ? `${resyncSeconds}s` : "1h"}`,
      ],
    });
    const ns = await bed.kube.createNamespace("bench");
    const m0 = await op.metrics();
    const a0 = await apiserverMetrics(bed.kube);
    const names = Array.from({ length: N }, (_, i) => `h${i}`);
    const pids = componentPids(op.process.pid);
    const cpu0 = cpuSnapshot(pids);
    const allSynced = watchSynced(bed, ns, N);
    const t0 = performance.now();
    await pool(names, CREATE_CONCURRENCY, (n, i) =>
      bed.hm.create(ns, n, {
        hostname: `${n}.bench.lan`,
        ip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      }));
    const createSeconds = (performance.now() - t0) / 1000;
    await allSynced.done;
    const convergeSeconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSnapshot(pids);
    const m1 = await op.metrics();
    const a1 = await apiserverMetrics(bed.kube);
    const grpcPerObject: Record<string, number> = {};
    for (const method of ["AddHost", "GetHost", "UpdateHost", "SearchHosts", "DeleteHost"]) {
      const d = sample(m1, "router_hosts_grpc_requests_total", `method="${method}"`) -
        sample(m0, "router_hosts_grpc_requests_total", `method="${method}"`);
      grpcPerObject[method] = d / N;
    }
    const objectWrites = kubeWrites(a1, "hostmappings") - kubeWrites(a0, "hostmappings");
    const statusWrites = kubeWrites(a1, "hostmappings", "status") -
      kubeWrites(a0, "hostmappings", "status");
    const run: ConvergeRun = {
      workers,
      n: N,
      createSeconds,
      convergeSeconds,
      grpcPerObject,
      // The bench's own creates are object writes too: subtract them.
      kubeWritesPerObject: { object: (objectWrites - N) / N, status: statusWrites / N },
      limitGrpcSeconds: 0,
      limitStatusSeconds: 0,
      ratio: 0,
      cpuSeconds: Object.fromEntries(Object.keys(cpu0).map((k) => [k, cpu1[k] - cpu0[k]])),
    };

    if (withResync) {
      const getsBefore = sample(m1, "router_hosts_grpc_requests_total", 'method="GetHost"');
      const cpuBefore = sample(m1, "process_cpu_seconds_total");
      const tr = performance.now();
      let m2 = m1;
      while (sample(m2, "router_hosts_grpc_requests_total", 'method="GetHost"') < getsBefore + N) {
        await sleep(250);
        m2 = await op.metrics();
      }
      const a2 = await apiserverMetrics(bed.kube);
      const writes = (m: string) =>
        ["AddHost", "UpdateHost", "DeleteHost"].reduce(
          (s, method) => s + sample(m, "router_hosts_grpc_requests_total", `method="${method}"`),
          0,
        );
      run.resync = {
        grpcWrites: writes(m2) - writes(m1),
        kubeWrites: (kubeWrites(a2, "hostmappings") + kubeWrites(a2, "hostmappings", "status")) -
          (kubeWrites(a1, "hostmappings") + kubeWrites(a1, "hostmappings", "status")),
        cpuSeconds: sample(m2, "process_cpu_seconds_total") - cpuBefore,
        seconds: (performance.now() - tr) / 1000,
      };
    }
    await op.stop();
    op = undefined;
    await freshServer(bed);

    // The limit: the same work from bare clients at the same concurrency.
    const tg = performance.now();
    await pool(names, workers, (n, i) =>
      bed.hosts.addHost({
        ipAddress: `10.${150 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
        hostname: `${n}.limit.lan`,
        comment: `k8s:bench/${n}`,
      }));
    run.limitGrpcSeconds = (performance.now() - tg) / 1000;
    const ts = performance.now();
    await pool(names, workers, (n) =>
      bed.kube.mergePatchJson(`${bed.hm.path(ns, n)}/status`, {
        status: { message: "bench status write" },
      }));
    run.limitStatusSeconds = (performance.now() - ts) / 1000;
    run.ratio = convergeSeconds / Math.max(run.limitGrpcSeconds, run.limitStatusSeconds);
    return run;
  } finally {
    await op?.stop();
    await stopBedFor(bed);
  }
}

interface RoutesRun {
  routes: number;
  hostsPerRoute: number;
  convergeSeconds: number;
  grpcPerHost: Record<string, number>;
  kubeWritesPerRoute: number;
  limitGrpcSeconds: number;
  limitObjectSeconds: number;
  ratio: number;
}

const HOST_IDS = "router-hosts.fzymgc.house/host-ids";

async function routes(count: number, perRoute: number, workers: number): Promise<RoutesRun> {
  const bed = await startBedFor();
  let op: OperatorProcess | undefined;
  try {
    op = await startOperator({
      kubeconfigPath: bed.kube.kubeconfigPath,
      routerHosts: bed.rh,
      args: [
        `--max-concurrent-reconciles=${workers}`,
        "--log-level=warn",
        `--default-ingress-ip=${INGRESS_IP}`,
        "--resync-period=1h",
      ],
    });
    const ns = await bed.kube.createNamespace("routes");
    const path = `/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`;
    const m0 = await op.metrics();
    const a0 = await apiserverMetrics(bed.kube);
    const names = Array.from({ length: count }, (_, i) => `r${i}`);
    const t0 = performance.now();
    await pool(names, CREATE_CONCURRENCY, (n) =>
      bed.kube.postJson(path, {
        apiVersion: "traefik.io/v1alpha1",
        kind: "IngressRoute",
        metadata: { name: n },
        spec: {
          routes: [{
            match: Array.from({ length: perRoute }, (_, h) => `Host(\`${n}-${h}.routes.lan\`)`)
              .join(" || "),
            kind: "Rule",
            services: [],
          }],
        },
      }));
    const done = async () => {
      const list = await bed.kube.getJson<
        { items: Array<{ metadata: { annotations?: Record<string, string> } }> }
      >(path);
      return list.items.filter((o) => {
        const ids = o.metadata.annotations?.[HOST_IDS];
        return ids !== undefined && Object.keys(JSON.parse(ids)).length === perRoute;
      }).length;
    };
    while (await done() < count) await sleep(200);
    const convergeSeconds = (performance.now() - t0) / 1000;
    const m1 = await op.metrics();
    const a1 = await apiserverMetrics(bed.kube);
    const hostsTotal = count * perRoute;
    const grpcPerHost: Record<string, number> = {};
    for (const method of ["AddHost", "GetHost", "UpdateHost", "SearchHosts"]) {
      grpcPerHost[method] = (sample(m1, "router_hosts_grpc_requests_total", `method="${method}"`) -
        sample(m0, "router_hosts_grpc_requests_total", `method="${method}"`)) / hostsTotal;
    }
    const objectWrites = kubeWrites(a1, "ingressroutes") - kubeWrites(a0, "ingressroutes") - count;
    await op.stop();
    op = undefined;
    await freshServer(bed);
    const hostNames = names.flatMap((n) =>
      Array.from({ length: perRoute }, (_, h) => `${n}-${h}.limit.lan`)
    );
    const tg = performance.now();
    await pool(hostNames, workers, (h) =>
      bed.hosts.addHost({
        ipAddress: INGRESS_IP,
        hostname: h,
        comment: "k8s-ingress:bench/x",
        tags: ["kubernetes", "traefik", "ingress"],
      }));
    const limitGrpcSeconds = (performance.now() - tg) / 1000;
    const to = performance.now();
    await pool(
      names,
      workers,
      (n) => bed.kube.mergePatchJson(`${path}/${n}`, { metadata: { annotations: { bench: "1" } } }),
    );
    const limitObjectSeconds = (performance.now() - to) / 1000;
    return {
      routes: count,
      hostsPerRoute: perRoute,
      convergeSeconds,
      grpcPerHost,
      kubeWritesPerRoute: objectWrites / count,
      limitGrpcSeconds,
      limitObjectSeconds,
      ratio: convergeSeconds / Math.max(limitGrpcSeconds, limitObjectSeconds),
    };
  } finally {
    await op?.stop();
    await stopBedFor(bed);
  }
}

async function latency(count: number): Promise<{ median: number; p99: number; samples: number[] }> {
  const bed = await startBedFor();
  let op: OperatorProcess | undefined;
  try {
    op = await startOperator({
      kubeconfigPath: bed.kube.kubeconfigPath,
      routerHosts: bed.rh,
      args: ["--log-level=warn"],
    });
    const ns = await bed.kube.createNamespace("latency");
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const name = `l${i}`;
      const t0 = performance.now();
      await bed.hm.create(ns, name, {
        hostname: `${name}.lat.lan`,
        ip: `10.250.${i >> 8}.${i & 255}`,
      });
      while ((await bed.hm.get(ns, name)).status?.phase !== "Synced") await sleep(2);
      samples.push(performance.now() - t0);
    }
    return { median: stats(samples).median, p99: quantile(samples, 0.99), samples };
  } finally {
    await op?.stop();
    await stopBedFor(bed);
  }
}

/** Current and peak (VmHWM) resident memory of a process, MiB, from /proc. */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

interface MemoryRun {
  /** RSS 10 s after /readyz with no objects. */
  idleMiB: number;
  /** Peak RSS (VmHWM) from start until N HostMappings created at once are all Synced. */
  peakConvergeMiB: number;
  /** Seconds from the first create to all Synced (the converge scenario's figure). */
  convergeSeconds: number;
  /** RSS with the large set cached and in sync, after it settled. */
  inSyncMiB: number;
  /** Peak RSS (VmHWM) of that operator, its start into 12,000 objects included. */
  inSyncPeakMiB: number;
  /** Seconds from operator start until the large set was in sync. */
  inSyncStartSeconds: number;
  /** Successful gRPC writes on the seeded large set (0: it really was in sync; adoption tries AddHost, refused). */
  inSyncGrpcWrites: number;
  hostMappings: number;
  ingressRoutes: number;
}

const MEMORY_NS = "memory";
const HOST_IDS_ANNOTATION = "router-hosts.fzymgc.house/host-ids";

/**
 * Fills the stopped router-hosts emulator's database with the entries the
 * operator would have written for the large set (comment and tags as in
 * spec/sources.md), through the emulator's own store, so the operator finds
 * them in sync instead of adding 12,000 entries one by one (each write
 * persists the whole store: O(n²) overall, 751 s for this set).
 */
async function seedEntries(rh: RouterHostsTestbed, hmCount: number, irCount: number) {
  if (rh.kind !== "emulator") throw new Error("seeding needs the router-hosts emulator");
  const store = new HostsStore();
  for (let i = 0; i < hmCount; i++) {
    store.addHost({
      ipAddress: memoryIp(i),
      hostname: `m${i}.mem.lan`,
      comment: `k8s:${MEMORY_NS}/m${i}`,
      tags: ["bench"],
    });
  }
  for (let i = 0; i < irCount; i++) {
    store.addHost({
      ipAddress: INGRESS_IP,
      hostname: `r${i}.mem.lan`,
      comment: `k8s-ingress:${MEMORY_NS}/r${i}`,
      tags: ["kubernetes", "traefik", "ingress"],
    });
  }
  await rh.stop();
  await Deno.writeTextFile(`${rh.dir}/data/router-hosts.db`, JSON.stringify(store.snapshot()));
  await rh.start();
}

const memoryIp = (i: number) => `10.${120 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

/** IngressRoutes of `ns` that carry the host-ids annotation (the operator tracks their entries). */
async function countTracked(bed: Bed, ns: string): Promise<number> {
  const list = await bed.kube.getJson<{ items: Array<{ metadata: { annotations?: object } }> }>(
    `/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`,
  );
  return list.items.filter((o) => HOST_IDS_ANNOTATION in (o.metadata.annotations ?? {})).length;
}

/** Extra V8 flags for the operator only, to compare settings (`deno task start`'s own come after them and win). */
const OPERATOR_V8_FLAGS = Deno.env.get("BENCH_OPERATOR_V8_FLAGS");

function operatorFor(bed: Bed): Promise<OperatorProcess> {
  return startOperator({
    kubeconfigPath: bed.kube.kubeconfigPath,
    routerHosts: bed.rh,
    env: OPERATOR_V8_FLAGS ? { DENO_V8_FLAGS: OPERATOR_V8_FLAGS } : undefined,
    args: [
      "--log-level=warn",
      `--default-ingress-ip=${INGRESS_IP}`,
      `--max-concurrent-reconciles=${WORKERS}`,
      "--resync-period=1h",
    ],
  });
}

/**
 * Idle RSS and the peak while converging `n` HostMappings on one bed; then,
 * on a second bed, the RSS with `hmCount` HostMappings and `irCount`
 * IngressRoutes cached and in sync: the entries are seeded on the server
 * and the objects created before the operator starts, so it starts into
 * them, adopts every entry without a gRPC write, records finalizers,
 * status and annotations, and then holds the whole set in its caches.
 */
async function memory(n: number, hmCount: number, irCount: number): Promise<MemoryRun> {
  const run = {} as MemoryRun;
  {
    const bed = await startBedFor();
    let op: OperatorProcess | undefined;
    try {
      op = await operatorFor(bed);
      await sleep(10_000);
      run.idleMiB = rssOf(op.process.pid).rss;
      const ns = await bed.kube.createNamespace("bench");
      const allSynced = watchSynced(bed, ns, n);
      const t0 = performance.now();
      await pool(
        Array.from({ length: n }, (_, i) => `h${i}`),
        CREATE_CONCURRENCY,
        (name, i) =>
          bed.hm.create(ns, name, {
            hostname: `${name}.bench.lan`,
            ip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
          }),
      );
      await allSynced.done;
      run.convergeSeconds = (performance.now() - t0) / 1000;
      run.peakConvergeMiB = rssOf(op.process.pid).peak;
    } finally {
      await op?.stop();
      await stopBedFor(bed);
    }
  }
  const bed = await startBedFor();
  let op: OperatorProcess | undefined;
  try {
    await seedEntries(bed.rh, hmCount, irCount);
    const ns = await bed.kube.createNamespace(MEMORY_NS);
    await pool(
      Array.from({ length: hmCount }, (_, i) => i),
      CREATE_CONCURRENCY,
      (i) =>
        bed.hm.create(ns, `m${i}`, { hostname: `m${i}.mem.lan`, ip: memoryIp(i), tags: ["bench"] }),
    );
    await pool(
      Array.from({ length: irCount }, (_, i) => i),
      CREATE_CONCURRENCY,
      (i) =>
        bed.kube.postJson(`/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`, {
          apiVersion: "traefik.io/v1alpha1",
          kind: "IngressRoute",
          metadata: { name: `r${i}` },
          spec: { routes: [{ match: `Host(\`r${i}.mem.lan\`)`, kind: "Rule", services: [] }] },
        }),
    );
    const allSynced = watchSynced(bed, ns, hmCount);
    const t0 = performance.now();
    op = await operatorFor(bed);
    const m0 = await op.metrics();
    await allSynced.done;
    while (await countTracked(bed, ns) < irCount) await sleep(2_000);
    run.inSyncStartSeconds = (performance.now() - t0) / 1000;
    const m1 = await op.metrics();
    run.inSyncGrpcWrites = ["AddHost", "UpdateHost", "DeleteHost"].reduce(
      (sum, method) =>
        sum + sample(m1, "router_hosts_grpc_requests_total", `method="${method}"`, 'code="OK"') -
        sample(m0, "router_hosts_grpc_requests_total", `method="${method}"`, 'code="OK"'),
      0,
    );
    // Let the burst's garbage be collected: the figure is the steady state.
    await sleep(30_000);
    ({ rss: run.inSyncMiB, peak: run.inSyncPeakMiB } = rssOf(op.process.pid));
    run.hostMappings = hmCount;
    run.ingressRoutes = irCount;
    return run;
  } finally {
    await op?.stop();
    await stopBedFor(bed);
  }
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cores: navigator.hardwareConcurrency, deno: Deno.version.deno, os: Deno.build.os },
  n: N,
};

for (const scenario of scenarios) {
  if (scenario === "converge") {
    const runs: ConvergeRun[] = [];
    for (let r = 0; r < REPEAT; r++) runs.push(await converge(WORKERS, true));
    results.converge = runs;
    const line = (label: string, xs: number[], d = 2) =>
      console.log(`${label.padEnd(44)} ${fmtStats(stats(xs), d)}`);
    console.log(
      `\n## Convergence: ${N} HostMappings, ${WORKERS} workers, ${REPEAT} runs (median (min–max))`,
    );
    line("create all objects (s)", runs.map((r) => r.createSeconds));
    line("converge: first create → all Synced (s)", runs.map((r) => r.convergeSeconds));
    line("limit: bare AddHost × N (s)", runs.map((r) => r.limitGrpcSeconds));
    line("limit: bare status writes × N (s)", runs.map((r) => r.limitStatusSeconds));
    line("ratio operator ÷ max(limit)", runs.map((r) => r.ratio));
    for (const m of Object.keys(runs[0].grpcPerObject)) {
      line(`gRPC ${m} per object`, runs.map((r) => r.grpcPerObject[m]));
    }
    line("Kubernetes object writes per object", runs.map((r) => r.kubeWritesPerObject.object));
    line("Kubernetes status writes per object", runs.map((r) => r.kubeWritesPerObject.status));
    for (const k of Object.keys(runs[0].cpuSeconds)) {
      line(`CPU s during convergence: ${k}`, runs.map((r) => r.cpuSeconds[k]));
    }
    line("resync: gRPC writes", runs.map((r) => r.resync!.grpcWrites), 0);
    line("resync: Kubernetes writes", runs.map((r) => r.resync!.kubeWrites), 0);
    line("resync: operator CPU seconds", runs.map((r) => r.resync!.cpuSeconds));
  } else if (scenario === "sweep") {
    const sweep: Record<number, ConvergeRun[]> = {};
    console.log(`\n## Concurrency sweep: ${N} HostMappings, ${REPEAT} runs each`);
    console.log(`${"workers".padEnd(8)} ${"converge s".padEnd(22)} ratio`);
    for (const w of [1, 2, 4, 8, 16]) {
      sweep[w] = [];
      for (let r = 0; r < REPEAT; r++) sweep[w].push(await converge(w, false));
      console.log(
        `${String(w).padEnd(8)} ${
          fmtStats(stats(sweep[w].map((x) => x.convergeSeconds))).padEnd(22)
        } ${fmtStats(stats(sweep[w].map((x) => x.ratio)))}`,
      );
    }
    results.sweep = sweep;
  } else if (scenario === "routes") {
    const count = Number(opts.routes);
    const per = Number(opts["hosts-per-route"]);
    const runs: RoutesRun[] = [];
    for (let r = 0; r < REPEAT; r++) runs.push(await routes(count, per, WORKERS));
    results.routes = runs;
    const line = (label: string, xs: number[], d = 2) =>
      console.log(`${label.padEnd(44)} ${fmtStats(stats(xs), d)}`);
    console.log(
      `\n## Convergence: ${count} IngressRoutes × ${per} hosts, ${WORKERS} workers, ${REPEAT} runs`,
    );
    line("converge: first create → all tracked (s)", runs.map((r) => r.convergeSeconds));
    line("limit: bare AddHost × hosts (s)", runs.map((r) => r.limitGrpcSeconds));
    line("limit: bare object writes × routes (s)", runs.map((r) => r.limitObjectSeconds));
    line("ratio operator ÷ max(limit)", runs.map((r) => r.ratio));
    for (const m of Object.keys(runs[0].grpcPerHost)) {
      line(`gRPC ${m} per host`, runs.map((r) => r.grpcPerHost[m]));
    }
    line("Kubernetes writes per IngressRoute", runs.map((r) => r.kubeWritesPerRoute));
  } else if (scenario === "latency") {
    const count = Number(opts["latency-n"]);
    const runs = [];
    for (let r = 0; r < REPEAT; r++) runs.push(await latency(count));
    results.latency = runs.map((r) => ({ median: r.median, p99: r.p99 }));
    console.log(
      `\n## Latency: create → Synced, ${count} single objects on an idle bed, ${REPEAT} runs`,
    );
    console.log(`median ms ${fmtStats(stats(runs.map((r) => r.median)), 1)}`);
    console.log(`p99 ms    ${fmtStats(stats(runs.map((r) => r.p99)), 1)}`);
  } else if (scenario === "memory") {
    const hm = Number(opts["memory-hm"]);
    const ir = Number(opts["memory-ir"]);
    const runs: MemoryRun[] = [];
    for (let r = 0; r < REPEAT; r++) runs.push(await memory(N, hm, ir));
    results.memory = runs;
    const line = (label: string, xs: number[], d = 1) =>
      console.log(`${label.padEnd(52)} ${fmtStats(stats(xs), d)}`);
    console.log(`\n## Memory (RSS, MiB), ${runs.length} runs (median (min–max))`);
    line("idle, no objects", runs.map((r) => r.idleMiB));
    line(`peak while converging ${N} HostMappings`, runs.map((r) => r.peakConvergeMiB));
    line(`  (that convergence, s)`, runs.map((r) => r.convergeSeconds), 2);
    line(`${hm} HostMappings + ${ir} IngressRoutes in sync`, runs.map((r) => r.inSyncMiB));
    line(`  (peak while starting into them)`, runs.map((r) => r.inSyncPeakMiB));
    line(`  (start → in sync, s)`, runs.map((r) => r.inSyncStartSeconds));
    line(`  (successful gRPC writes on the seeded set)`, runs.map((r) => r.inSyncGrpcWrites), 0);
  } else {
    console.error(`unknown scenario ${scenario}`);
    Deno.exit(2);
  }
}

await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const out = new URL(
  `./results/${results.date as string}.json`.replaceAll(":", "-"),
  import.meta.url,
);
await Deno.writeTextFile(out, JSON.stringify(results, null, 2));
console.log(`\nJSON: ${out.pathname}`);
Deno.exit(0);
