/**
 * The source engine's reconciler wired as engine/wiring.ts wires it (a
 * {@link SyncBook} settling each report; an object that left the watch
 * scope released from `departed`), for its unit tests: one object at
 * `apps/web` on the one fake API server ({@link FakeObjectApi}), the
 * router-hosts fake, and an Event recorder. {@link EngineObject} records the
 * object's writes (and can fail the next one) on top of the fake server.
 *
 * @module
 */
import { KubeApiError, type RequestOptions } from "../../k8s/client.ts";
import type { EventRecorder, EventRegarding, EventType } from "../../k8s/events.ts";
import { ObjectWriter } from "../../k8s/object_writer.ts";
import { type KubeObject, objectPath } from "../../k8s/resource.ts";
import { Store } from "../../k8s/store.ts";
import { Logger } from "../../observability/log.ts";
import { HOST_IDS_ANNOTATION } from "../../controllers/engine/host_ids.ts";
import type {
  AnySource,
  Claims,
  SourceContext,
  SourceView,
} from "../../controllers/engine/source.ts";
import { SourceReconciler } from "../../controllers/engine/reconcile.ts";
import { SyncBook, type SyncReport } from "../../controllers/engine/sync_report.ts";
import { INGRESSROUTE } from "../../controllers/sources/ingressroute.ts";
import { ConflictBoard, type Policy } from "../../controllers/hosts/policy.ts";
import { FakeObjectApi } from "./kube_objects.ts";
import { FakeHosts } from "./router_hosts.ts";
import { fakeContext } from "./source_context.ts";

/** The key of the harness's object. */
export const KEY = "apps/web";
/** `--default-ingress-ip` of the harness. */
export const IP = "10.2.0.1";

/** One object on the fake API server, its writes recorded. */
export class EngineObject {
  readonly api = new FakeObjectApi();
  readonly path: string;
  /** Every write's body, in order. */
  readonly patches: unknown[] = [];
  /** Fail the next write with 409. */
  conflictNext = false;
  readonly #order: string[];
  #last: KubeObject;

  constructor(path: string, obj: KubeObject, order: string[]) {
    this.path = path;
    this.#order = order;
    this.#last = this.api.put(path, obj);
  }

  /** The object now; once deleted, as the last write left it. */
  get obj(): KubeObject {
    return this.api.get(this.path) ?? structuredClone(this.#last);
  }

  async request<T>(opts: RequestOptions): Promise<T> {
    this.patches.push(opts.body);
    if (this.conflictNext) {
      this.conflictNext = false;
      throw new KubeApiError("conflict", { status: 409, reason: "Conflict" });
    }
    const written = await this.api.request<KubeObject>(opts);
    this.#last = written;
    if (opts.contentType === "application/json-patch+json") {
      this.#order.push(`finalizers=${(written.metadata?.finalizers ?? []).join(",")}`);
    } else if ((opts.body as KubeObject).metadata?.annotations) this.#order.push("annotation");
    return written as T;
  }

  /** The `host-ids` annotation, parsed. */
  annotation(): Record<string, string> | undefined {
    const raw = this.obj.metadata?.annotations?.[HOST_IDS_ANNOTATION];
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  /** Someone else's change (a person, another controller). */
  edit(f: (o: KubeObject) => void): void {
    const o = this.obj;
    f(o);
    this.#last = this.api.put(this.path, o);
  }
}

/** Events as recorded. */
export class Events implements EventRecorder {
  list: { type: EventType; reason: string; note: string; kind: string }[] = [];
  event(r: EventRegarding, type: EventType, reason: string, note: string): void {
    this.list.push({ type, reason, note, kind: r.kind });
  }
  reasons(): string[] {
    return this.list.map((e) => e.reason);
  }
}

/** Options of {@link harness}. */
export interface HarnessOptions {
  ingressIP?: string;
  kind?: AnySource;
  claims?: Claims;
  hosts?: FakeHosts;
  context?: SourceContext;
  cached?: SourceContext["cached"];
  policy?: Policy;
  conflicts?: ConflictBoard;
  wake?: (key: string) => void;
}

/** See the module documentation. */
export function harness(obj: KubeObject, o: HarnessOptions = {}) {
  const hosts = o.hosts ?? new FakeHosts();
  const order: string[] = [];
  const origAdd = hosts.addHost.bind(hosts);
  hosts.addHost = (h) => {
    order.push("AddHost");
    return origAdd(h);
  };
  const source: AnySource = o.kind ?? INGRESSROUTE;
  const path = objectPath(source.resource, obj.metadata?.namespace, obj.metadata!.name!);
  const kube = new EngineObject(path, obj, order);
  const store = new Store<SourceView>();
  /** Objects that left the watch scope (k8s/builder.ts fills it). */
  const departed = new Store<SourceView>();
  const events = new Events();
  /** Entries tracked per key, as reported (router_hosts_managed_hosts). */
  const tracked = new Map<string, number>();
  /** Hostnames in conflict per key, as reported (router_hosts_hostname_conflicts). */
  const conflicting = new Map<string, number>();
  const writer = new ObjectWriter({
    api: kube,
    resource: source.resource,
    project: source.project,
    store,
  });
  const rec = new SourceReconciler({
    source,
    hosts,
    events,
    log: new Logger({ sink: () => {} }),
    context: o.context ?? fakeContext({ defaultIngressIP: o.ingressIP ?? IP, cached: o.cached }),
    peers: "IngressRouteTCP",
    policy: o.policy,
  });
  const book = new SyncBook({
    controller: source.controller,
    managed: { set: () => {} },
    conflicts: { set: () => {} },
    board: o.conflicts ?? new ConflictBoard(),
    wake: (k) => o.wake?.(k),
  });
  /** One reconcile of the cached object, as the wiring runs it. */
  const reconcile = async (): Promise<SyncReport | undefined> => {
    const view = store.get(KEY);
    const gone = view ? undefined : departed.get(KEY);
    if (!view && !gone) return undefined;
    const report = view
      ? await rec.reconcile({ key: KEY, view, writer, claims: o.claims })
      : await rec.releaseDeparted({ key: KEY, view: gone!, writer, claims: o.claims });
    if (gone && !report.error) departed.apply(KEY, undefined);
    if (report.managed !== undefined) tracked.set(KEY, report.managed);
    if (report.conflicts !== undefined) conflicting.set(KEY, report.conflicts.length);
    book.settle(KEY, report);
    return report;
  };
  return {
    kube,
    hosts,
    events,
    rec,
    store,
    departed,
    tracked,
    conflicting,
    /** Finalizer writes, AddHost calls and annotation writes, in order. */
    order,
    reconcile,
    /** Reloads the store from the fake server (what the watch would do) and reconciles. */
    async run(): Promise<SyncReport | undefined> {
      const current = kube.api.get(path);
      store.apply(KEY, current && source.project(current));
      return await reconcile();
    },
  };
}
