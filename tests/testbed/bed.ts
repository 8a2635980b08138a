/**
 * What the operator e2e tests and the load benchmark share: a whole test bed
 * (kube-apiserver + etcd + router-hosts, CRDs installed) with a gRPC client
 * for looking at the server and small HostMapping helpers, and the operator
 * started against it — each with a scoped form that always cleans up and
 * prints the components' logs when the body fails.
 *
 * ```ts
 * await withBed({ traefik: true }, (bed) =>
 *   withOperator(bed, { args: ["--default-ingress-ip=10.0.0.1"] }, async (op) => {
 *     // ...
 *   }));
 * ```
 *
 * @module
 */
import { RouterHostsClient } from "../../grpc/client.ts";
import { loadTlsMaterial } from "../../grpc/tls.ts";
import { type CrdSetName, installCrds } from "./crds.ts";
import { type KubeOptions, type KubeTestbed, startKube } from "./kube.ts";
import {
  eventually,
  type OperatorOptions,
  type OperatorProcess,
  startOperator,
} from "./operator.ts";
import { dumpLogs } from "./process.ts";
import { type RouterHostsTestbed, startRouterHosts } from "./router_hosts.ts";

/** The HostMapping API path prefix. */
export const HM_API = "/apis/router-hosts.fzymgc.house/v1alpha1";
/** The HostMapping finalizer (the Go operator's). */
export const FINALIZER = "router-hosts.fzymgc.house/host-cleanup";

/** A HostMapping as the API returns it. */
export interface HostMappingObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    finalizers?: string[];
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
  };
  spec: { hostname: string; ip: string; aliases?: string[]; tags?: string[] };
  status?: {
    phase?: string;
    message?: string;
    hostId?: string;
    hostVersion?: string;
    lastSyncTime?: string;
    conditions?: Array<
      { type: string; status: string; reason: string; message: string; observedGeneration?: number }
    >;
  };
}

/** The running bed and helpers. */
export interface Bed {
  kube: KubeTestbed;
  rh: RouterHostsTestbed;
  /** A client of the server, for looking (and for out-of-band changes). */
  hosts: RouterHostsClient;
  hm: HostMappings;
}

/** HostMapping CRUD against the bed's apiserver. */
export class HostMappings {
  constructor(readonly kube: KubeTestbed) {}

  path(ns: string, name?: string): string {
    return `${HM_API}/namespaces/${ns}/hostmappings${name ? `/${name}` : ""}`;
  }
  create(
    ns: string,
    name: string,
    spec: HostMappingObject["spec"],
  ): Promise<HostMappingObject> {
    return this.kube.postJson(this.path(ns), {
      apiVersion: "router-hosts.fzymgc.house/v1alpha1",
      kind: "HostMapping",
      metadata: { name },
      spec,
    });
  }
  get(ns: string, name: string): Promise<HostMappingObject> {
    return this.kube.getJson(this.path(ns, name));
  }
  async exists(ns: string, name: string): Promise<boolean> {
    const res = await this.kube.request("GET", this.path(ns, name));
    return res.status !== 404;
  }
  patch(ns: string, name: string, patch: unknown): Promise<HostMappingObject> {
    return this.kube.mergePatchJson(this.path(ns, name), patch);
  }
  delete(ns: string, name: string): Promise<unknown> {
    return this.kube.deleteJson(this.path(ns, name));
  }
  /** Waits until the object's status satisfies `ok`; returns the object. */
  waitFor(
    ns: string,
    name: string,
    what: string,
    ok: (o: HostMappingObject) => boolean,
    timeoutMs = 30_000,
  ): Promise<HostMappingObject> {
    return eventually(`${ns}/${name}: ${what}`, async () => {
      const o = await this.get(ns, name);
      return ok(o) ? o : undefined;
    }, timeoutMs);
  }
  /** Waits for phase Synced with the given generation observed. */
  waitSynced(ns: string, name: string, timeoutMs = 30_000): Promise<HostMappingObject> {
    return this.waitFor(
      ns,
      name,
      "phase Synced at the current generation",
      (o) =>
        o.status?.phase === "Synced" &&
        o.status.conditions?.some((c) =>
            c.type === "Synced" && c.status === "True" &&
            c.observedGeneration === o.metadata.generation
          ) === true,
      timeoutMs,
    );
  }
  /** Waits until the object is gone. */
  waitGone(ns: string, name: string, timeoutMs = 30_000): Promise<boolean> {
    return eventually(
      `${ns}/${name} deleted`,
      async () => !(await this.exists(ns, name)),
      timeoutMs,
    );
  }
}

/** Which CRDs {@linkcode startBed} installs besides HostMapping. */
export interface BedOptions {
  /** Traefik's real CRDs (IngressRoute, IngressRouteTCP, …). */
  traefik?: boolean;
  /** The Gateway API's standard-channel CRDs (Gateway, HTTPRoute, GRPCRoute, TLSRoute, …). */
  gatewayApi?: boolean;
  /** Options for the control plane. */
  kube?: KubeOptions;
  /** The emulator's `--hosts-file-jitter-ms` (router_hosts.ts `hostsFileJitterMs`). */
  hostsFileJitterMs?: number;
}

/** Starts the bed (fails loudly when it cannot); CRDs installed. */
export async function startBed(options: BedOptions = {}): Promise<Bed> {
  const kube = await startKube(options.kube);
  let rh: RouterHostsTestbed | undefined;
  try {
    rh = await startRouterHosts({ hostsFileJitterMs: options.hostsFileJitterMs });
    const sets: CrdSetName[] = ["router-hosts"];
    if (options.traefik) sets.push("traefik");
    if (options.gatewayApi) sets.push("gateway-api");
    await installCrds(kube, ...sets);
    return { kube, rh, hosts: await openHostsClient(rh), hm: new HostMappings(kube) };
  } catch (e) {
    dumpLogs();
    await rh?.dispose();
    await kube.stop();
    throw e;
  }
}

/** A client of `rh` with the operator's identity (a fresh one after a server restart). */
export async function openHostsClient(rh: RouterHostsTestbed): Promise<RouterHostsClient> {
  return new RouterHostsClient({
    address: rh.address,
    deadlineMs: 5_000,
    tls: await loadTlsMaterial({
      caPath: rh.caPath,
      certPath: rh.clientCertPath,
      keyPath: rh.clientKeyPath,
    }),
  });
}

/** Stops everything the bed started. */
export async function stopBed(bed: Bed): Promise<void> {
  bed.hosts.close();
  await bed.rh.dispose();
  await bed.kube.stop();
}

/**
 * Runs `body` on a fresh bed, then stops the bed whatever happened; prints
 * the components' logs when `body` throws.
 */
export async function withBed<T>(
  options: BedOptions,
  body: (bed: Bed) => Promise<T>,
): Promise<T> {
  const bed = await startBed(options);
  try {
    return await body(bed);
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    await stopBed(bed);
  }
}

/**
 * {@linkcode OperatorOptions} where the bed supplies the rest: `kubeconfigPath`
 * defaults to the admin's (a service account's to prove RBAC), `routerHosts`
 * to the bed's server (another for a TLS mode it does not offer).
 */
export type BedOperatorOptions =
  & Omit<OperatorOptions, "kubeconfigPath" | "routerHosts">
  & Partial<Pick<OperatorOptions, "kubeconfigPath" | "routerHosts">>;

/** Starts the operator against the bed (its admin kubeconfig and router-hosts server). */
export function startBedOperator(
  bed: Bed,
  options: BedOperatorOptions = {},
): Promise<OperatorProcess> {
  return startOperator({
    kubeconfigPath: bed.kube.kubeconfigPath,
    routerHosts: bed.rh,
    ...options,
  });
}

/**
 * Runs `body` with the operator started against the bed, then stops the
 * operator (SIGTERM, as a rollout would) whatever happened.
 */
export async function withOperator<T>(
  bed: Bed,
  options: BedOperatorOptions,
  body: (op: OperatorProcess) => Promise<T>,
): Promise<T> {
  const op = await startBedOperator(bed, options);
  try {
    return await body(op);
  } finally {
    await op.stop();
  }
}

/**
 * The operators one test starts on a bed — several at once (HA, two owner
 * ids) or one after another (a restart with other flags). Each is stopped by
 * the test or, at the latest, by {@linkcode withOperators}.
 */
export class Operators {
  readonly #started: OperatorProcess[] = [];

  constructor(readonly bed: Bed) {}

  /** Starts an operator against the bed; it is stopped when the scope ends, if not before. */
  async start(options: BedOperatorOptions = {}): Promise<OperatorProcess> {
    const op = await startBedOperator(this.bed, options);
    this.#started.push(op);
    return op;
  }

  /** Stops every operator still running (stopping an exited one is a no-op). */
  async stopAll(): Promise<void> {
    await Promise.all(this.#started.map((op) => op.stop()));
  }
}

/**
 * Runs `body` with an {@linkcode Operators} for the bed, then stops every
 * operator it started (SIGTERM) whatever happened.
 */
export async function withOperators<T>(
  bed: Bed,
  body: (ops: Operators) => Promise<T>,
): Promise<T> {
  const ops = new Operators(bed);
  try {
    return await body(ops);
  } finally {
    await ops.stopAll();
  }
}

/** What an e2e test on the bed receives from {@linkcode bedTest}. */
export interface BedTestContext {
  bed: Bed;
  /** Start operators with `ops.start({ args })`; every one is stopped when the test ends. */
  ops: Operators;
  t: Deno.TestContext;
}

/** Options of {@linkcode bedTest}: the test's name and the bed's CRDs. */
export interface BedTestOptions extends BedOptions {
  name: string;
}

/**
 * One e2e test on a fresh bed: `Deno.test` with the op and resource
 * sanitizers off (the bed's processes and clients live across steps),
 * {@linkcode withBed} and {@linkcode withOperators} — so the bed and every
 * operator are stopped, and the logs printed on failure, whatever happens.
 */
export function bedTest(
  options: BedTestOptions,
  body: (c: BedTestContext) => Promise<void>,
): void {
  const { name, ...bedOptions } = options;
  Deno.test(
    { name, sanitizeOps: false, sanitizeResources: false },
    (t) => withBed(bedOptions, (bed) => withOperators(bed, (ops) => body({ bed, ops, t }))),
  );
}
