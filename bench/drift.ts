/**
 * Live repair from WatchHosts, measured on the test bed (docs/performance.md
 * "Live repair"). Every operator runs with `--resync-period=1h`, so nothing
 * below is the resync's doing.
 *
 * Scenarios:
 * - repair: N HostMappings in sync; R times, one entry is deleted or edited
 *   by hand (alternating) and the clock runs until the bench's own
 *   WatchHosts stream shows it restored (a new id for the name, or the
 *   operator's version after the edit). p50 / p99 / max, and the operator's
 *   gRPC writes per repair.
 * - steady: after that, a quiet minute: the operator's gRPC calls (all
 *   methods), snapshots, reconciles and CPU seconds in it.
 * - handover: two kube-apiservers, owners a and b, K hostnames both want,
 *   all held by a; a's objects are deleted one at a time and the clock runs
 *   from the DELETE until b's entry for the name is on the server.
 * - scale: S HostMappings seeded in sync (entries through the emulator's
 *   store, as bench/load.ts does), then a burst of B foreign AddHost calls
 *   at concurrency 8; the operator's CPU seconds and RSS (peak and after),
 *   with the stream and against a server without WatchHosts (the emulator;
 *   with --real, the real server with the stream only, seeded by AddHost:
 *   ROUTER_HOSTS_BIN must name it; slow: the server rewrites its whole hosts
 *   file on every write, about 7,500 entries in 25 minutes on the shared
 *   machine, so use a smaller --scale).
 *
 * Usage: deno run -A bench/drift.ts [repair|handover|scale ...] [--n=50] [--rounds=100]
 *        [--handover=20] [--scale=10000] [--burst=500]
 * (repair includes steady.)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RouterHostsClient } from "../grpc/client.ts";
import { loadTlsMaterial } from "../grpc/tls.ts";
import { HostMappings } from "../tests/testbed/bed.ts";
import { Scrape } from "../tests/testbed/prometheus.ts";
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
    n: { type: "string", default: "50" },
    rounds: { type: "string", default: "100" },
    handover: { type: "string", default: "20" },
    scale: { type: "string", default: "10000" },
    burst: { type: "string", default: "500" },
    real: { type: "boolean", default: false },
  },
});
const scenarios = positionals.length ? positionals : ["repair", "handover", "scale"];

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

/** The bench's own view of the server: the last complete snapshot, hostname → entries. */
class Mirror {
  #byName = new Map<string, { id: string; version: string }[]>();
  #next = new Map<string, { id: string; version: string }[]>();
  #waiters: (() => void)[] = [];
  readonly #call: { cancel(): void };

  constructor(hosts: RouterHostsClient) {
    this.#call = hosts.watchHosts({
      message: (msg) => {
        if ("entry" in msg) {
          const { id, version, hostname } = msg.entry;
          const list = this.#next.get(hostname) ?? [];
          list.push({ id, version });
          this.#next.set(hostname, list);
        } else if ("complete" in msg) {
          this.#byName = this.#next;
          this.#next = new Map();
          for (const w of this.#waiters.splice(0)) w();
        }
      },
      end: (e) => {
        if (e) console.error(`bench stream ended: ${e.message}`);
      },
    });
  }

  named(hostname: string): { id: string; version: string }[] {
    return this.#byName.get(hostname) ?? [];
  }

  /** Resolves with the time (performance.now) of the first snapshot where `ok` holds. */
  async until(ok: () => boolean, timeoutMs = 60_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (!ok()) {
      if (performance.now() > deadline) throw new Error("timed out waiting on the server");
      await Promise.race([
        new Promise<void>((r) => this.#waiters.push(r)),
        sleep(1_000),
      ]);
    }
    return performance.now();
  }

  close(): void {
    this.#call.cancel();
  }
}

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

function quantile(xs: number[], q: number): number {
  const s = xs.toSorted((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

function cpuOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssOf(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

const CALLS = "router_hosts_grpc_requests_total";
const WRITES = ["AddHost", "UpdateHost", "DeleteHost"];

function operator(kube: KubeTestbed, rh: RouterHostsTestbed, args: string[] = []) {
  return startOperator({
    kubeconfigPath: kube.kubeconfigPath,
    routerHosts: rh,
    args: ["--log-level=warn", "--resync-period=1h", ...args],
  });
}

async function waitMetric(op: OperatorProcess, ok: (m: Scrape) => boolean): Promise<Scrape> {
  for (;;) {
    const m = await op.scrape();
    if (ok(m)) return m;
    await sleep(200);
  }
}

const idle = (op: OperatorProcess) =>
  waitMetric(
    op,
    (m) => m.sum("workqueue_depth") === 0 && m.sum("controller_runtime_active_workers") === 0,
  );

async function repair(n: number, rounds: number) {
  const kube = await startKube();
  const rh = await startRouterHosts();
  await installCrds(kube, "router-hosts");
  const hosts = await clientFor(rh);
  const hm = new HostMappings(kube);
  let op: OperatorProcess | undefined;
  const mirror = new Mirror(hosts);
  try {
    const ns = await kube.createNamespace("drift");
    op = await operator(kube, rh);
    await pool(
      Array.from({ length: n }, (_, i) => i),
      16,
      (i) => hm.create(ns, `d${i}`, { hostname: `d${i}.drift.lan`, ip: `10.30.0.${i + 1}` }),
    );
    await mirror.until(() =>
      Array.from({ length: n }, (_, i) => i).every((i) =>
        mirror.named(`d${i}.drift.lan`).length === 1
      )
    );
    await idle(op);
    const m0 = await op.scrape();
    const samples: { kind: string; ms: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const name = `d${(r * 7) % n}.drift.lan`;
      const [entry] = mirror.named(name);
      const before = (await hosts.searchHosts(name)).find((e) => e.id === entry.id)!;
      const t0 = performance.now();
      if (r % 2 === 0) {
        await hosts.deleteHost(entry.id);
        const t1 = await mirror.until(() => {
          const now = mirror.named(name);
          return now.length === 1 && now[0].id !== entry.id;
        });
        samples.push({ kind: "delete", ms: t1 - t0 });
      } else {
        const edited = await hosts.updateHost({
          id: entry.id,
          expectedVersion: before.version,
          ipAddress: "10.30.255.1",
        });
        const t1 = await mirror.until(() => {
          const now = mirror.named(name);
          return now.length === 1 && now[0].version !== edited.version &&
            now[0].version !== before.version;
        });
        samples.push({ kind: "edit", ms: t1 - t0 });
      }
      await idle(op);
    }
    const m1 = await op.scrape();
    const writes = WRITES.reduce(
      (s, method) => s + m1.sum(CALLS, { method }) - m0.sum(CALLS, { method }),
      0,
    );
    const all = samples.map((s) => s.ms);
    const report = (xs: number[]) =>
      `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms, max ${
        Math.max(...xs).toFixed(0)
      } ms (${xs.length})`;
    console.log(`repair, all: ${report(all)}`);
    console.log(
      `repair, delete: ${report(samples.filter((s) => s.kind === "delete").map((s) => s.ms))}`,
    );
    console.log(
      `repair, edit: ${report(samples.filter((s) => s.kind === "edit").map((s) => s.ms))}`,
    );
    console.log(`repair: operator gRPC writes per repair ${(writes / rounds).toFixed(2)}`);

    // Steady: a quiet minute.
    await idle(op);
    const q0 = await op.scrape();
    const cpu0 = cpuOf(op.process.pid);
    await sleep(60_000);
    const q1 = await op.scrape();
    const cpu1 = cpuOf(op.process.pid);
    console.log(
      `steady 60 s: gRPC calls ${q1.sum(CALLS) - q0.sum(CALLS)}, snapshots ${
        q1.sum("router_hosts_watch_snapshots_total") - q0.sum("router_hosts_watch_snapshots_total")
      }, reconciles ${
        q1.sum("controller_runtime_reconcile_total") - q0.sum("controller_runtime_reconcile_total")
      }, operator CPU ${(cpu1 - cpu0).toFixed(2)} s`,
    );
  } finally {
    mirror.close();
    await op?.stop();
    hosts.close();
    await rh.dispose();
    await kube.stop();
  }
}

async function handover(k: number) {
  const kubeA = await startKube();
  const kubeB = await startKube();
  const rh = await startRouterHosts();
  const hosts = await clientFor(rh);
  const mirror = new Mirror(hosts);
  const ops: OperatorProcess[] = [];
  try {
    await installCrds(kubeA, "router-hosts");
    await installCrds(kubeB, "router-hosts");
    const hmA = new HostMappings(kubeA);
    const hmB = new HostMappings(kubeB);
    for (const [kube, hm] of [[kubeA, hmA], [kubeB, hmB]] as const) {
      await kube.createNamespace("handover");
      for (let i = 0; i < k; i++) {
        await hm.create("handover", `h${i}`, { hostname: `h${i}.handover.lan`, ip: "10.31.0.1" });
      }
    }
    ops.push(await operator(kubeA, rh, ["--owner-id=a"]));
    await mirror.until(() =>
      Array.from({ length: k }, (_, i) => i).every((i) =>
        mirror.named(`h${i}.handover.lan`).length === 1
      )
    );
    const held = new Map(
      Array.from({ length: k }, (_, i) => [i, mirror.named(`h${i}.handover.lan`)[0].id]),
    );
    const opB = await operator(kubeB, rh, ["--owner-id=b"]);
    ops.push(opB);
    await waitMetric(opB, (m) => m.sum("router_hosts_hostname_conflicts") === k);
    await idle(opB);
    const samples: number[] = [];
    for (let i = 0; i < k; i++) {
      const name = `h${i}.handover.lan`;
      const t0 = performance.now();
      await hmA.delete("handover", `h${i}`);
      const t1 = await mirror.until(() => {
        const now = mirror.named(name);
        return now.length === 1 && now[0].id !== held.get(i);
      });
      samples.push(t1 - t0);
    }
    console.log(
      `handover (DELETE of a's object → b's entry on the server): p50 ${
        quantile(samples, 0.5).toFixed(0)
      } ms, max ${Math.max(...samples).toFixed(0)} ms (${k})`,
    );
  } finally {
    mirror.close();
    await Promise.all(ops.map((o) => o.stop()));
    hosts.close();
    await rh.dispose();
    await kubeA.stop();
    await kubeB.stop();
  }
}

async function scale(count: number, burst: number, watchHosts: boolean) {
  const kube = await startKube();
  const rh = await startRouterHosts({ kind: opts.real ? "real" : "emulator", watchHosts });
  await installCrds(kube, "router-hosts");
  const hm = new HostMappings(kube);
  let op: OperatorProcess | undefined;
  let hosts: RouterHostsClient | undefined;
  try {
    const ip = (i: number) => `10.${120 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const seed = (i: number) => ({
      ipAddress: ip(i),
      hostname: `m${i}.mem.lan`,
      comment: `k8s:scale/m${i}`,
    });
    if (rh.kind === "real") {
      hosts = await clientFor(rh);
      await pool(Array.from({ length: count }, (_, i) => i), 16, (i) => hosts!.addHost(seed(i)));
    } else {
      const store = new HostsStore();
      for (let i = 0; i < count; i++) store.addHost(seed(i));
      await rh.stop();
      await Deno.writeTextFile(`${rh.dir}/data/router-hosts.db`, JSON.stringify(store.snapshot()));
      await rh.start();
      hosts = await clientFor(rh);
    }
    const ns = await kube.createNamespace("scale");
    await pool(
      Array.from({ length: count }, (_, i) => i),
      32,
      (i) => hm.create(ns, `m${i}`, { hostname: `m${i}.mem.lan`, ip: ip(i) }),
    );
    op = await operator(kube, rh);
    await waitMetric(op, (m) => m.sum("router_hosts_managed_hosts") === count);
    await idle(op);
    await sleep(30_000);
    const settled = rssOf(op.process.pid).rss;
    const cpu0 = cpuOf(op.process.pid);
    const m0 = await op.scrape();
    const t0 = performance.now();
    await pool(
      Array.from({ length: burst }, (_, i) => i),
      8,
      (i) => hosts!.addHost({ ipAddress: "10.32.0.1", hostname: `burst${i}.lan` }),
    );
    const burstSeconds = (performance.now() - t0) / 1000;
    // The stream catches up: the last snapshot shows every entry.
    if (watchHosts) {
      await waitMetric(op, (m) => m.value("router_hosts_watch_snapshot_entries") === count + burst);
    }
    await idle(op);
    const cpu1 = cpuOf(op.process.pid);
    const m1 = await op.scrape();
    const peak = rssOf(op.process.pid).peak;
    await sleep(30_000);
    const after = rssOf(op.process.pid).rss;
    console.log(
      `scale ${count} + burst ${burst} (${watchHosts ? "with" : "without"} the stream): ` +
        `RSS settled ${settled.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB, 30 s after ${
          after.toFixed(1)
        } MiB; operator CPU during burst + catch-up ${(cpu1 - cpu0).toFixed(2)} s ` +
        `(burst ${burstSeconds.toFixed(1)} s); snapshots ${
          m1.sum("router_hosts_watch_snapshots_total") -
          m0.sum("router_hosts_watch_snapshots_total")
        }; operator gRPC calls ${m1.sum(CALLS) - m0.sum(CALLS)}; reconciles ${
          m1.sum("controller_runtime_reconcile_total") -
          m0.sum("controller_runtime_reconcile_total")
        }`,
    );
  } finally {
    await op?.stop();
    hosts?.close();
    await rh.dispose();
    await kube.stop();
  }
}

for (const s of scenarios) {
  if (s === "repair") await repair(Number(opts.n), Number(opts.rounds));
  else if (s === "handover") await handover(Number(opts.handover));
  else if (s === "scale") {
    await scale(Number(opts.scale), Number(opts.burst), true);
    if (!opts.real) await scale(Number(opts.scale), Number(opts.burst), false);
  } else throw new Error(`unknown scenario ${s}`);
}
