/**
 * Helpers of the policy and ownership e2e tests (policy_test.ts,
 * ownership_test.ts, dry_run_test.ts, orphan_sweep_test.ts): IngressRoute
 * CRUD, Events, and the operator's counters from /metrics.
 */
import type { HostEntry, RouterHostsClient } from "../../grpc/client.ts";
import type { KubeTestbed } from "../testbed/mod.ts";
import { eventually, metricSum, type OperatorProcess } from "../testbed/operator.ts";

/** The IP of every IngressRoute entry (--default-ingress-ip). */
export const INGRESS_IP = "10.2.0.1";
/** IngressRoute finalizer. */
export const IR_FINALIZER = "router-hosts.fzymgc.house/ingressroute-cleanup";
/** The retain annotation. */
export const ON_DELETE = "router-hosts.fzymgc.house/on-delete";
const B = "`";

/** An IngressRoute as the API server returns it. */
export interface RouteObject {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
}

/** IngressRoute CRUD on one API server. */
export class IngressRoutes {
  constructor(readonly kube: KubeTestbed) {}

  path(ns: string, name?: string): string {
    return `/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes${name ? `/${name}` : ""}`;
  }
  create(
    ns: string,
    name: string,
    hostnames: string[],
    annotations?: Record<string, string>,
  ): Promise<RouteObject> {
    return this.kube.postJson(this.path(ns), {
      apiVersion: "traefik.io/v1alpha1",
      kind: "IngressRoute",
      metadata: { name, annotations },
      spec: {
        entryPoints: ["websecure"],
        routes: [{
          match: hostnames.map((h) => `Host(${B}${h}${B})`).join(" || "),
          kind: "Rule",
          services: [{ name: "svc", port: 80 }],
        }],
      },
    });
  }
  get(ns: string, name: string): Promise<RouteObject> {
    return this.kube.getJson(this.path(ns, name));
  }
  delete(ns: string, name: string): Promise<unknown> {
    return this.kube.deleteJson(this.path(ns, name));
  }
  waitGone(ns: string, name: string, timeoutMs = 30_000): Promise<boolean> {
    return eventually(
      `ingressroute ${ns}/${name} deleted`,
      async () => (await this.kube.request("GET", this.path(ns, name))).status === 404,
      timeoutMs,
    );
  }
}

/** An Event as events.k8s.io/v1 lists it. */
export interface EventItem {
  reason: string;
  type: string;
  note: string;
  regarding: { kind: string; name: string };
  series?: { count: number };
  deprecatedCount?: number;
}

/** Every Event of a namespace. */
export async function events(kube: KubeTestbed, ns: string): Promise<EventItem[]> {
  const list = await kube.getJson<{ items: EventItem[] }>(
    `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
  );
  return list.items;
}

/** Waits for an Event of `reason` about `name`. */
export function waitEvent(
  kube: KubeTestbed,
  ns: string,
  name: string,
  reason: string,
  timeoutMs = 30_000,
): Promise<EventItem> {
  return eventually(`a ${reason} event about ${ns}/${name}`, async () => {
    return (await events(kube, ns)).find((e) => e.reason === reason && e.regarding.name === name);
  }, timeoutMs);
}

/** Waits until `find` returns exactly `count` entries of `hostname`; returns them. */
export function waitEntries(
  hosts: RouterHostsClient,
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

/** controller_runtime_reconcile_total of one controller, every result. */
export async function reconciles(op: OperatorProcess, controller: string): Promise<number> {
  return metricSum(
    await op.metrics(),
    "controller_runtime_reconcile_total",
    `controller="${controller}"`,
  );
}

/** Waits until `controller` has no queued or running work (its counts then only move on a change). */
export function waitIdle(op: OperatorProcess, controller: string): Promise<boolean> {
  return eventually(`${controller} idle`, async () => {
    const m = await op.metrics();
    return metricSum(m, "workqueue_depth", `name="${controller}"`) === 0 &&
      metricSum(m, "controller_runtime_active_workers", `controller="${controller}"`) === 0;
  });
}
