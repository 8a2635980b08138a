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
 * - memory: operator RSS at idle with no objects and with many cached and in sync.
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
      /router-hosts-emulator\.mjs serve|router_hosts_emulator\/main\.ts serve/.test(cmd) &&
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

async function countSynced(bed: Bed, ns: string): Promise<number> {
  const list = await bed.kube.getJson<{ items: HostMappingObject[] }>(bed.hm.path(ns));
  return list.items.filter((o) => o.status?.phase === "Synced").length;
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

async function rssOf(op: OperatorProcess): Promise<number> {
  return sample(await op.metrics(), "process_resident_memory_bytes") / 2 ** 20;
}

async function memory(hmCount: number, irCount: number) {
  const bed = await startBedFor();
  let op: OperatorProcess | undefined;
  try {
    op = await startOperator({
      kubeconfigPath: bed.kube.kubeconfigPath,
      routerHosts: bed.rh,
      args: [
        "--log-level=warn",
        `--default-ingress-ip=${INGRESS_IP}`,
        "--max-concurrent-reconciles=8",
      ],
    });
    await sleep(3_000);
    const idleMiB = await rssOf(op);
    const ns = await bed.kube.createNamespace("memory");
    const t0 = performance.now();
    await pool(
      Array.from({ length: hmCount }, (_, i) => i),
      CREATE_CONCURRENCY,
      (i) =>
        bed.hm.create(ns, `m${i}`, {
          hostname: `m${i}.mem.lan`,
          ip: `10.${120 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
          tags: ["bench"],
        }),
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
    while (await countSynced(bed, ns) < hmCount) await sleep(1_000);
    const expectedEntries = hmCount + irCount;
    while ((await bed.hosts.listHosts()).length < expectedEntries) await sleep(1_000);
    const convergeSeconds = (performance.now() - t0) / 1000;
    await sleep(5_000);
    const loadedMiB = await rssOf(op);
    return { idleMiB, loadedMiB, hostMappings: hmCount, ingressRoutes: irCount, convergeSeconds };
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
    const runs = [];
    for (let r = 0; r < Math.min(REPEAT, 3); r++) {
      runs.push(await memory(Number(opts["memory-hm"]), Number(opts["memory-ir"])));
    }
    results.memory = runs;
    console.log(`\n## Memory (RSS, MiB), ${runs.length} runs`);
    console.log(
      `idle, no objects                   ${fmtStats(stats(runs.map((r) => r.idleMiB)), 1)}`,
    );
    console.log(
      `${opts["memory-hm"]} HostMappings + ${opts["memory-ir"]} IngressRoutes  ${
        fmtStats(stats(runs.map((r) => r.loadedMiB)), 1)
      }`,
    );
    console.log(
      `(convergence of that load, s        ${
        fmtStats(stats(runs.map((r) => r.convergeSeconds)), 1)
      })`,
    );
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
