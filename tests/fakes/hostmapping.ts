/**
 * The HostMapping reconciler wired as createHostMappingUnit wires it (a
 * {@link SyncBook} settling each report), against the one fake API server
 * ({@link FakeObjectApi}) and the router-hosts fake, for the HostMapping
 * unit tests. `informer()` copies the API's object into the cache as the
 * watch would; a reconcile runs from the cache, then the watch catches up.
 *
 * @module
 */
import { ObjectWriter } from "../../k8s/object_writer.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import { Store } from "../../k8s/store.ts";
import { Logger } from "../../observability/log.ts";
import { HostMappingReconciler } from "../../controllers/hostmapping/controller.ts";
import type { HostMappingStatus } from "../../controllers/hostmapping/status.ts";
import {
  HOSTMAPPING,
  type HostMappingView,
  projectHostMapping,
} from "../../controllers/hostmapping/view.ts";
import { ConflictBoard, type Policy } from "../../controllers/hosts/policy.ts";
import { SyncBook, type SyncReport } from "../../controllers/engine/sync_report.ts";
import { FakeObjectApi } from "./kube_objects.ts";
import { FakeHosts } from "./router_hosts.ts";

/** An Event as recorded. */
export interface RecordedEvent {
  type: string;
  reason: string;
  note: string;
}

/** Options of {@link hostMappingRig}. */
export interface HostMappingRigOptions {
  name?: string;
  spec?: Record<string, unknown>;
  annotations?: Record<string, string>;
  /** Shared with another rig: one router-hosts server. */
  hosts?: FakeHosts;
  policy?: Policy;
  /** Shared with another rig: one process. */
  board?: ConflictBoard;
}

/** The API path of HostMapping `home/<name>`. */
export function hostMappingPath(name: string): string {
  return `/apis/router-hosts.fzymgc.house/v1alpha1/namespaces/home/hostmappings/${name}`;
}

/** See the module documentation. */
export function hostMappingRig(o: HostMappingRigOptions = {}) {
  const name = o.name ?? "nas";
  const key = `home/${name}`;
  const path = hostMappingPath(name);
  const hosts = o.hosts ?? new FakeHosts();
  const api = new FakeObjectApi();
  const store = new Store<HostMappingView>();
  const events: RecordedEvent[] = [];
  const reports: SyncReport[] = [];
  const woken: string[] = [];
  /** router_hosts_managed_hosts and router_hosts_hostname_conflicts, as published. */
  const gauges = { managed: 0, conflicts: 0 };
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const informer = () => {
    const obj = api.get(path);
    store.apply(key, obj && projectHostMapping(obj));
  };
  const writer = new ObjectWriter({
    api,
    resource: HOSTMAPPING,
    project: projectHostMapping,
    store,
  });
  const reconciler = new HostMappingReconciler({
    hosts,
    events: { event: (_r, type, reason, note) => events.push({ type, reason, note }) },
    log: new Logger({ sink: () => {} }),
    now: () => new Date(clock += 1000),
    policy: o.policy,
  });
  const book = new SyncBook({
    controller: "hostmapping",
    managed: { set: (_l, v) => gauges.managed = v },
    conflicts: { set: (_l, v) => gauges.conflicts = v },
    board: o.board ?? new ConflictBoard(),
    wake: (k) => woken.push(k),
  });
  api.put(path, {
    apiVersion: "router-hosts.fzymgc.house/v1alpha1",
    kind: "HostMapping",
    metadata: { name, namespace: "home", uid: name, generation: 1, annotations: o.annotations },
    spec: o.spec ?? { hostname: "nas.lan", ip: "10.0.0.5" },
  });
  informer();
  return {
    key,
    path,
    hosts,
    api,
    events,
    reports,
    woken,
    gauges,
    informer,
    /** One reconcile as the controller runs it; the error it ends with, or undefined. */
    async reconcile(): Promise<unknown> {
      const view = store.get(key);
      try {
        if (!view) return undefined;
        const report = await reconciler.reconcile({ key, view, writer });
        reports.push(report);
        book.settle(key, report);
        return undefined;
      } catch (e) {
        return e;
      } finally {
        informer();
      }
    },
    /** The object on the API server. */
    object(): KubeObject | undefined {
      return api.get(path);
    },
    status(): HostMappingStatus {
      return (api.get(path)?.status ?? {}) as HostMappingStatus;
    },
    synced(): { status: string; reason: string; observedGeneration?: number } {
      return this.status().conditions!.find((c) => c.type === "Synced")!;
    },
    /** A user edit of the spec: generation moves. */
    edit(spec: Record<string, unknown>): void {
      const obj = api.get(path)!;
      obj.spec = { ...(obj.spec as object), ...spec };
      obj.metadata!.generation = (obj.metadata!.generation ?? 0) + 1;
      api.put(path, obj);
      informer();
    },
    /** `kubectl delete`: the API server sets deletionTimestamp while finalizers remain. */
    delete(): void {
      const obj = api.get(path)!;
      obj.metadata!.deletionTimestamp = "2026-01-01T01:00:00Z";
      api.put(path, obj);
      informer();
    },
  };
}
