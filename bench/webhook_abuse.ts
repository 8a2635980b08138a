/**
 * The webhook against abusive requests, on loopback: the figures of the
 * webhook's limits (README "Use with external-dns"). Each measurement runs
 * a fresh `--controllers=false` operator process against a router-hosts
 * server (the emulator, or the real one with ROUTER_HOSTS_BIN), so its peak
 * RSS (VmHWM) is that request's.
 *
 * - rss-records / rss-adjust: peak RSS of the process for one 100 MB POST to
 *   `/records` (endpoints of a record type a hosts file cannot hold: no
 *   write) and to `/adjustendpoints` (A endpoints), sent with Content-Length;
 * - healthz: the slowest `/healthz` (probe port, polled every 20 ms) during
 *   one 300,000-endpoint `/adjustendpoints` (1% not A/AAAA);
 * - logs: log lines written for 25 `/adjustendpoints` bodies of 1,000,000
 *   bytes each (TXT endpoints, all dropped);
 * - sigterm: seconds from SIGTERM to exit while a 10,000-endpoint
 *   `POST /records` is being written (capped at 90 s, then SIGKILL).
 *
 * Usage: deno run -A bench/webhook_abuse.ts [--root=DIR] [--only=a,b] [--args="--flag=x ..."]
 * `--root` runs the operator of another checkout (its main.ts and its
 * `deno task start` flags), e.g. an older commit unpacked with `git archive`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { freePort, ROOT } from "../tests/testbed/mod.ts";
import { startRouterHosts } from "../tests/testbed/router_hosts.ts";
import { openHostsClient } from "../tests/testbed/bed.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string", default: ROOT },
    only: { type: "string", default: "rss-records,rss-adjust,healthz,logs,sigterm" },
    args: { type: "string", default: "" },
  },
});
const MEDIA_TYPE = "application/external.dns.webhook+json;version=1";
const ENC = new TextEncoder();
const root = opts.root!;
const extra = opts.args!.split(/\s+/).filter((a) => a !== "");

const rh = await startRouterHosts();
const hosts = await openHostsClient(rh);
console.log(`router-hosts: ${rh.kind}; operator: ${root}; extra args: ${extra.join(" ") || "-"}`);

interface Running {
  child: Deno.ChildProcess;
  webhook: number;
  probe: number;
  metrics: number;
  logPath: string;
  /** Lines the process wrote so far (stdout and stderr). */
  lines: number;
}

function startFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(root, "deno.json")));
  return String(config.tasks.start).split(/\s+/).slice(2, -1);
}

async function start(): Promise<Running> {
  const [webhook, probe, metrics] = [freePort(), freePort(), freePort()];
  const logPath = await Deno.makeTempFile({ prefix: "webhook-abuse-", suffix: ".log" });
  const file = await Deno.open(logPath, { write: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...startFlags(),
      join(root, "main.ts"),
      "--controllers=false",
      `--webhook-bind-address=127.0.0.1:${webhook}`,
      `--health-probe-bind-address=127.0.0.1:${probe}`,
      `--metrics-bind-address=127.0.0.1:${metrics}`,
      `--server-address=${rh.address}`,
      `--tls-ca=${rh.caPath}`,
      `--tls-cert=${rh.clientCertPath}`,
      `--tls-key=${rh.clientKeyPath}`,
      "--domain-filter=home.arpa",
      "--log-level=info",
      ...extra,
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const running: Running = { child, webhook, probe, metrics, logPath, lines: 0 };
  // Both streams into one file, their lines counted on the way.
  const count = () =>
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        for (const b of chunk) if (b === 10) running.lines++;
        out.enqueue(chunk);
      },
    });
  const sink = new WritableStream<Uint8Array>({ write: (chunk) => file.write(chunk).then() });
  const merged = new TransformStream<Uint8Array, Uint8Array>();
  merged.readable.pipeTo(sink).catch(() => {});
  const writer = merged.writable;
  child.stdout.pipeThrough(count()).pipeTo(writer, { preventClose: true }).catch(() => {});
  child.stderr.pipeThrough(count()).pipeTo(writer, { preventClose: true }).catch(() => {});
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://127.0.0.1:${probe}/healthz`).then(
      (r) => (r.body?.cancel(), r.ok),
      () => false,
    );
    if (ok) return running;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the operator did not start; log ${logPath}`);
}

async function stop(r: Running): Promise<void> {
  try {
    r.child.kill("SIGKILL");
  } catch { /* gone */ }
  await r.child.status;
}

function peakRssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Sends a request with Content-Length on a raw socket; the status line, or what happened. */
async function send(port: number, path: string, body: Uint8Array, timeoutMs: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = ENC.encode(
    `POST ${path} HTTP/1.1\r\nHost: webhook\r\nContent-Type: ${MEDIA_TYPE}\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  const timer = setTimeout(() => conn.close(), timeoutMs);
  const reply = (async () => {
    const buf = new Uint8Array(4096);
    let text = "";
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
        if (text.includes("\r\n")) break;
      }
    } catch { /* closed */ }
    return text.split("\r\n")[0] || "connection closed without an answer";
  })();
  try {
    await conn.write(head);
    for (let off = 0; off < body.length;) off += await conn.write(body.subarray(off));
  } catch { /* the server stopped reading */ }
  const status = await reply;
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return status;
}

/** A JSON list of endpoints of about `bytes` bytes. */
function endpoints(bytes: number, type: (i: number) => string): string[] {
  const out: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const e = JSON.stringify({
      dnsName: `n${i}.home.arpa`,
      recordType: type(i),
      targets: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    });
    out.push(e);
    size += e.length + 1;
  }
  return out;
}

const only = new Set(opts.only!.split(","));
const results: Record<string, string> = {};

/** Runs one measurement; a failure is reported as its result, the others still run. */
async function measure(name: string, run: () => Promise<string>): Promise<void> {
  if (!only.has(name)) return;
  try {
    results[name] = await run();
  } catch (e) {
    results[name] = `failed: ${(e as Error).stack ?? e}`;
  }
  console.log(`${name}: ${results[name]}`);
}

await measure("rss-records", async () => {
  const r = await start();
  const idle = peakRssMiB(r.child.pid);
  const body = ENC.encode(`{"create":[${endpoints(100e6, () => "TXT").join(",")}]}`);
  const status = await send(r.webhook, "/records", body, 600_000);
  const peak = peakRssMiB(r.child.pid);
  await stop(r);
  return `100 MB POST /records: ${status}; peak RSS ${peak.toFixed(0)} MiB (${
    idle.toFixed(0)
  } MiB before)`;
});

await measure("rss-adjust", async () => {
  const r = await start();
  const idle = peakRssMiB(r.child.pid);
  const body = ENC.encode(`[${endpoints(100e6, () => "A").join(",")}]`);
  const status = await send(r.webhook, "/adjustendpoints", body, 600_000);
  const peak = peakRssMiB(r.child.pid);
  await stop(r);
  return `100 MB POST /adjustendpoints: ${status}; peak RSS ${peak.toFixed(0)} MiB (${
    idle.toFixed(0)
  } MiB before)`;
});

await measure("healthz", async () => {
  const r = await start();
  const list: string[] = [];
  for (let i = 0; i < 300_000; i++) {
    list.push(JSON.stringify({
      dnsName: `n${i}.home.arpa`,
      recordType: i % 100 === 0 ? "TXT" : "A",
      targets: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    }));
  }
  const body = ENC.encode(`[${list.join(",")}]`);
  let worst = 0;
  let polls = 0;
  let done = false;
  const poller = (async () => {
    while (!done) {
      const t0 = performance.now();
      await fetch(`http://127.0.0.1:${r.probe}/healthz`).then((res) => res.text(), () => "");
      worst = Math.max(worst, performance.now() - t0);
      polls++;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  const t0 = performance.now();
  const status = await send(r.webhook, "/adjustendpoints", body, 600_000);
  const took = (performance.now() - t0) / 1000;
  done = true;
  await poller;
  await stop(r);
  return `300,000-endpoint /adjustendpoints (${(body.length / 1e6).toFixed(1)} MB): ${status} in ${
    took.toFixed(2)
  } s; slowest /healthz ${(worst / 1000).toFixed(3)} s (${polls} polls)`;
});

await measure("logs", async () => {
  const r = await start();
  const before = r.lines;
  const bodies = endpoints(999_990, () => "TXT");
  const body = ENC.encode(`[${bodies.join(",")}]`);
  const statuses = new Map<string, number>();
  for (let i = 0; i < 25; i++) {
    const s = await send(r.webhook, "/adjustendpoints", body, 600_000);
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
  // Until the count stops growing (the process writes asynchronously).
  let lines = -1;
  for (let i = 0; i < 50 && r.lines - before !== lines; i++) {
    lines = r.lines - before;
    await new Promise((res) => setTimeout(res, 500));
  }
  await stop(r);
  return `25 × ${(body.length / 1e6).toFixed(2)} MB /adjustendpoints (${
    bodies.length * 25
  } TXT endpoints): ${lines} log lines; answers ${JSON.stringify([...statuses])}`;
});

await measure("sigterm", async () => {
  const r = await start();
  const list = [];
  for (let i = 0; i < 10_000; i++) {
    list.push({
      dnsName: `term${i}.home.arpa`,
      recordType: "A",
      targets: [`10.77.${(i >> 8) & 255}.${i & 255}`],
    });
  }
  const body = ENC.encode(JSON.stringify({ create: list }));
  const answer = send(r.webhook, "/records", body, 600_000);
  const writes = async () => {
    const text = await fetch(`http://127.0.0.1:${r.metrics}/metrics`).then((x) => x.text());
    return [
      ...text.matchAll(/router_hosts_webhook_changes_total\{[^}]*action="create"[^}]*\} (\d+)/g),
    ]
      .reduce((n, m) => n + Number(m[1]), 0);
  };
  for (let i = 0; i < 600 && (await writes()) === 0; i++) {
    await new Promise((res) => setTimeout(res, 50));
  }
  const t0 = performance.now();
  r.child.kill("SIGTERM");
  const exited = await Promise.race([
    r.child.status.then(() => true),
    new Promise<boolean>((res) => setTimeout(() => res(false), 90_000)),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  if (!exited) await stop(r);
  const entries = (await hosts.listHosts()).filter((e) => e.hostname.startsWith("term"));
  for (const e of entries) await hosts.deleteHost(e.id);
  return `SIGTERM during a 10,000-endpoint POST /records: ${
    exited ? `exited after ${seconds.toFixed(2)} s` : "still running after 90 s (SIGKILL)"
  }; answer ${await answer}; ${entries.length} entries written`;
});

console.log("---");
for (const [k, v] of Object.entries(results)) console.log(`${k}: ${v}`);
hosts.close();
await rh.dispose();
