/**
 * Helpers of the policy and ownership e2e tests (policy_test.ts,
 * ownership_test.ts, dry_run_test.ts, orphan_sweep_test.ts): IngressRoute
 * CRUD (every hostname in one `Host() || …` rule). Events and the operator's counters
 * are `tests/testbed/observe.ts`'s.
 */
import type { KubeTestbed } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";

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
