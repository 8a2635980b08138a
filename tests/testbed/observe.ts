/**
 * What e2e tests read to see what the operator did — Events on the API
 * server, its counters on /metrics, the server's entries by name — defined
 * once for every e2e file.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import type { KubeTestbed } from "./kube.ts";
import { eventually, type OperatorProcess } from "./operator.ts";
import { metricSum } from "./prometheus.ts";
import type { HostsFileLine, RouterHostsTestbed } from "./router_hosts.ts";

/** One events.k8s.io/v1 Event, as far as the tests read it. */
export interface EventItem {
  reason: string;
  type: string;
  note: string;
  regarding: { kind: string; name: string };
  series?: { count: number; lastObservedTime: string };
  deprecatedCount?: number;
}

/** The Events of namespace `ns`. */
export async function events(kube: KubeTestbed, ns: string): Promise<EventItem[]> {
  const list = await kube.getJson<{ items: EventItem[] }>(
    `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
  );
  return list.items;
}

/** The Events about `kind` `name` (of `reason` when given). */
export async function eventsAbout(
  kube: KubeTestbed,
  ns: string,
  kind: string,
  name: string,
  reason?: string,
): Promise<EventItem[]> {
  return (await events(kube, ns)).filter((e) =>
    (reason === undefined || e.reason === reason) && e.regarding.kind === kind &&
    e.regarding.name === name
  );
}

/** Waits for an Event of `reason` about the object `name` (of `kind` when given). */
export function waitEvent(
  kube: KubeTestbed,
  ns: string,
  about: { kind?: string; name: string },
  reason: string,
  timeoutMs = 30_000,
): Promise<EventItem> {
  const { kind, name } = about;
  return eventually(
    `a ${reason} event about ${kind ? `${kind} ` : ""}${ns}/${name}`,
    async () =>
      (await events(kube, ns)).find((e) =>
        e.reason === reason && e.regarding.name === name &&
        (kind === undefined || e.regarding.kind === kind)
      ),
    timeoutMs,
  );
}

/**
 * Waits until the server's hosts file satisfies `ok`; returns its lines.
 * The file is the server's asynchronous output: router-hosts rewrites it
 * inside each write, and overlapping writes can leave it behind the
 * entries until the operator's settle write
 * (docs/adr/0013-settle-write-after-overlapping-writes.md). So tests wait
 * for the lines they expect, never read them right after an RPC.
 */
export async function waitForHostsFile(
  rh: Pick<RouterHostsTestbed, "readHostsFile">,
  what: string,
  ok: (lines: HostsFileLine[]) => boolean,
  timeoutMs = 30_000,
): Promise<HostsFileLine[]> {
  let last: HostsFileLine[] = [];
  try {
    return await eventually(`hosts file: ${what}`, async () => {
      last = await rh.readHostsFile();
      return ok(last) ? last : undefined;
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the file's lines: ${JSON.stringify(last)}`);
  }
}

/** `router_hosts_grpc_requests_total` of `method`, all codes, in a /metrics text. */
export function grpcCalls(metrics: string, method: string): number {
  return metricSum(metrics, "router_hosts_grpc_requests_total", `method="${method}"`);
}

/**
 * The settle writes (no-op UpdateHosts after overlapping writes, grpc/settle.ts)
 * in a /metrics text: they appear in `router_hosts_grpc_requests_total` as
 * UpdateHost, so a test counting the operator's own updates subtracts them.
 */
export function settleWrites(metrics: string): number {
  const name = "router_hosts_settle_writes_total";
  return metricSum(metrics, name) - metricSum(metrics, name, 'result="skipped"');
}

/** `controller_runtime_reconcile_total` of one controller so far, every result. */
export async function reconciles(op: OperatorProcess, controller: string): Promise<number> {
  return metricSum(
    await op.metrics(),
    "controller_runtime_reconcile_total",
    `controller="${controller}"`,
  );
}

/**
 * Waits until `controller` has done `n` more reconciles (or, with
 * `errors`, failed `n` more): proof that it looked again, without sleeping.
 */
export async function waitReconciles(
  op: OperatorProcess,
  controller: string,
  n: number,
  errors = false,
): Promise<void> {
  const metric = errors
    ? "controller_runtime_reconcile_errors_total"
    : "controller_runtime_reconcile_total";
  const count = async () => metricSum(await op.metrics(), metric, `controller="${controller}"`);
  const before = await count();
  await eventually(`${n} more ${metric} of ${controller}`, async () => await count() >= before + n);
}

/** Waits until `controller` has no queued or running work (its counts then only move on a change). */
export function waitIdle(op: OperatorProcess, controller: string): Promise<boolean> {
  return eventually(`${controller} idle`, async () => {
    const m = await op.metrics();
    return metricSum(m, "workqueue_depth", `name="${controller}"`) === 0 &&
      metricSum(m, "controller_runtime_active_workers", `controller="${controller}"`) === 0;
  });
}

/** Every entry on the server whose hostname is `hostname`, whatever its IP. */
export async function entriesNamed(
  bed: { hosts: HostsPort },
  hostname: string,
): Promise<HostEntry[]> {
  return (await bed.hosts.searchHosts(hostname)).filter((e) => e.hostname === hostname);
}

/**
 * Waits until the entries of `hostname` (any case, any IP) satisfy `ok`;
 * returns them.
 */
export function waitEntries(
  hosts: HostsPort,
  hostname: string,
  what: string,
  ok: (entries: HostEntry[]) => boolean,
  timeoutMs = 30_000,
): Promise<HostEntry[]> {
  return eventually(`${hostname}: ${what}`, async () => {
    const found = (await hosts.searchHosts(hostname)).filter((e) =>
      e.hostname.toLowerCase() === hostname.toLowerCase()
    );
    return ok(found) ? found : undefined;
  }, timeoutMs);
}
