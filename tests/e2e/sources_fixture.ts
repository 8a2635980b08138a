/**
 * What the Service, Ingress and IP-source e2e tests share: objects
 * (Services, Ingresses) on the bed's API server — whose LoadBalancer status
 * the test writes itself through the status subresource, as a cloud
 * controller would (no kube-controller-manager runs) — and Traefik
 * IngressRoutes. Events and the operator's counters are
 * `tests/testbed/observe.ts`'s.
 *
 * @module
 */
import type { KubeTestbed } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";

export const HOST_IDS = "router-hosts.fzymgc.house/host-ids";

/** The metadata the tests read. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  finalizers?: string[];
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}

/** One kind's CRUD on the bed's API server. */
export class Objects<T extends { metadata: ObjectMeta }> {
  constructor(
    readonly kube: KubeTestbed,
    readonly apiPath: string,
    readonly plural: string,
    readonly apiVersion: string,
    readonly kind: string,
  ) {}

  path(ns: string, name?: string): string {
    return `${this.apiPath}/namespaces/${ns}/${this.plural}${name ? `/${name}` : ""}`;
  }
  create(
    ns: string,
    name: string,
    spec: unknown,
    annotations: Record<string, string> = {},
  ): Promise<T> {
    return this.kube.postJson(this.path(ns), {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: { name, annotations },
      spec,
    });
  }
  get(ns: string, name: string): Promise<T> {
    return this.kube.getJson(this.path(ns, name));
  }
  async exists(ns: string, name: string): Promise<boolean> {
    return (await this.kube.request("GET", this.path(ns, name))).status !== 404;
  }
  patch(ns: string, name: string, patch: unknown): Promise<T> {
    return this.kube.mergePatchJson(this.path(ns, name), patch);
  }
  /** Sets annotations (null removes one). */
  annotate(ns: string, name: string, annotations: Record<string, string | null>): Promise<T> {
    return this.patch(ns, name, { metadata: { annotations } });
  }
  /** Writes `status.loadBalancer.ingress` through the status subresource. */
  setLoadBalancer(ns: string, name: string, ingress: { ip?: string; hostname?: string }[]) {
    return this.kube.mergePatchJson(`${this.path(ns, name)}/status`, {
      status: { loadBalancer: { ingress } },
    });
  }
  delete(ns: string, name: string): Promise<unknown> {
    return this.kube.deleteJson(this.path(ns, name));
  }
  /** The host-ids annotation, parsed; undefined when absent. */
  async hostIds(ns: string, name: string): Promise<Record<string, string> | undefined> {
    const raw = (await this.get(ns, name)).metadata.annotations?.[HOST_IDS];
    return raw === undefined ? undefined : JSON.parse(raw);
  }
  /** Waits until the annotation names exactly `hostnames`; returns it. */
  waitTracked(ns: string, name: string, hostnames: string[], timeoutMs = 30_000) {
    const want = JSON.stringify([...hostnames].sort());
    return eventually(`${this.kind} ${ns}/${name} tracks ${want}`, async () => {
      const ids = await this.hostIds(ns, name) ?? {};
      return JSON.stringify(Object.keys(ids).sort()) === want ? ids : undefined;
    }, timeoutMs);
  }
  waitGone(ns: string, name: string, timeoutMs = 30_000): Promise<boolean> {
    return eventually(
      `${this.kind} ${ns}/${name} deleted`,
      async () => !(await this.exists(ns, name)),
      timeoutMs,
    );
  }
}

/** A Service as the tests read it. */
export interface ServiceObject {
  metadata: ObjectMeta;
  spec: { type?: string };
}

/** An Ingress as the tests read it. */
export interface IngressObject {
  metadata: ObjectMeta;
  spec: { ingressClassName?: string; rules?: { host?: string }[] };
}

/** Services on the bed. */
export function services(kube: KubeTestbed): Objects<ServiceObject> {
  return new Objects(kube, "/api/v1", "services", "v1", "Service");
}

/** networking.k8s.io/v1 Ingresses on the bed. */
export function ingresses(kube: KubeTestbed): Objects<IngressObject> {
  return new Objects(
    kube,
    "/apis/networking.k8s.io/v1",
    "ingresses",
    "networking.k8s.io/v1",
    "Ingress",
  );
}

/** A Service spec of `type` with one port. */
export function serviceSpec(type: string): unknown {
  return { type, ports: [{ name: "http", port: 80, protocol: "TCP" }] };
}

/** A Traefik IngressRoute as the tests read it. */
export interface IngressRouteObject {
  metadata: ObjectMeta;
  spec: { routes: { match: string }[] };
}

/** Traefik IngressRoutes on the bed (the Traefik CRDs must be installed). */
export function ingressRoutes(kube: KubeTestbed): Objects<IngressRouteObject> {
  return new Objects(
    kube,
    "/apis/traefik.io/v1alpha1",
    "ingressroutes",
    "traefik.io/v1alpha1",
    "IngressRoute",
  );
}

/** An IngressRoute spec with one route per Host() rule. */
export function ingressRouteSpec(...hosts: string[]): unknown {
  return {
    entryPoints: ["websecure"],
    routes: hosts.map((h) => ({
      match: `Host(\`${h}\`)`,
      kind: "Rule",
      services: [{ name: "svc", port: 80 }],
    })),
  };
}
