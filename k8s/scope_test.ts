import { Registry } from "prom-client";
import { Logger } from "../observability/log.ts";
import { Metrics } from "../observability/metrics.ts";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { eventually } from "../tests/testbed/operator.ts";
import { ControllerBuilder, InformerRegistry, type WatchedKind } from "./builder.ts";
import type { Query, RequestOptions, WatchEvent } from "./client.ts";
import type { KubeList, KubeObject, ResourceType } from "./resource.ts";
import { ScopedInformer } from "./scope.ts";
import { type ObjectView, viewOf } from "./view.ts";
import type { ListWatchClient } from "./watcher.ts";

const quiet = new Logger({ level: "error", sink: () => {} });
const rt = (plural: string): ResourceType => ({
  group: "x.io",
  version: "v1",
  plural,
  kind: plural,
  namespaced: true,
});
const ROUTES = rt("routes");
const GATES: WatchedKind<{ name: string }> = {
  resource: rt("gates"),
  project: (o) => ({ name: o.metadata?.name ?? "" }),
};

const obj = (
  ns: string,
  name: string,
  rv: string,
  extra: Partial<KubeObject["metadata"]> = {},
) => ({
  metadata: { namespace: ns, name, uid: `${ns}-${name}`, resourceVersion: rv, ...extra },
});

/** Lists per collection path and records every query; streams what the test sends. */
class FakeKube implements ListWatchClient {
  readonly items = new Map<string, KubeObject[]>();
  readonly lists: { path: string; query?: Query }[] = [];
  readonly watchQueries: { path: string; query: Query }[] = [];
  readonly #watchers = new Map<string, ((e: WatchEvent) => void)[]>();

  list<T>(path: string, query?: Query): Promise<T> {
    this.lists.push({ path, query });
    const list: KubeList = {
      metadata: { resourceVersion: "1" },
      items: this.items.get(path) ?? [],
    };
    return Promise.resolve(list as T);
  }
  async *watch(path: string, query: Query, signal: AbortSignal): AsyncIterable<WatchEvent> {
    this.watchQueries.push({ path, query });
    const queue: WatchEvent[] = [];
    let wake = () => {};
    this.#watchers.set(path, [...this.#watchers.get(path) ?? [], (e) => {
      queue.push(e);
      wake();
    }]);
    while (!signal.aborted) {
      if (queue.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
          signal.addEventListener("abort", () => r(), { once: true });
        });
        continue;
      }
      yield queue.shift()!;
    }
  }
  send(path: string, e: WatchEvent): void {
    for (const w of this.#watchers.get(path) ?? []) w(e);
  }
  request<T>(_o: RequestOptions): Promise<T> {
    return Promise.reject(new Error("no writes here"));
  }
}

Deno.test("scoped informer: one list+watch per namespace into one store; a relist of one keeps the others", async () => {
  const kube = new FakeKube();
  kube.items.set("/apis/x.io/v1/namespaces/a/routes", [obj("a", "r", "1")]);
  kube.items.set("/apis/x.io/v1/namespaces/b/routes", [obj("b", "r", "1")]);
  const changes: string[] = [];
  const informer = new ScopedInformer<ObjectView>({
    client: kube,
    resource: ROUTES,
    project: (o) => viewOf(o),
    namespaces: ["a", "b", "a"],
    labelSelector: "team=x",
    log: quiet,
    onChange: (key, o) => changes.push(`${o ? "set" : "del"} ${key}`),
  });
  const stop = new AbortController();
  const run = informer.run(stop.signal);
  try {
    assertEquals(await informer.waitForSync(stop.signal), true);
    assertOk(informer.hasSynced());
    assertEquals(informer.store.keys().sort(), ["a/r", "b/r"]);
    assertEquals(kube.lists.map((l) => l.path).sort(), [
      "/apis/x.io/v1/namespaces/a/routes",
      "/apis/x.io/v1/namespaces/b/routes",
    ], "one list per namespace, a repeated namespace once, never the cluster");
    assertOk(kube.lists.every((l) => l.query?.labelSelector === "team=x"), "selector on lists");
    await eventually("both watching", () => kube.watchQueries.length === 2);
    assertOk(kube.watchQueries.every((w) => w.query.labelSelector === "team=x"), "on watches");

    // An expired watch in b relists b only: a's object stays.
    kube.items.set("/apis/x.io/v1/namespaces/b/routes", []);
    kube.send("/apis/x.io/v1/namespaces/b/routes", {
      type: "ERROR",
      object: { code: 410, reason: "Expired" } as unknown as KubeObject,
    });
    await eventually("b relisted", () => !informer.store.has("b/r"));
    assertEquals(informer.store.keys(), ["a/r"]);
    assertEquals(changes.sort(), ["del b/r", "set a/r", "set b/r"]);
  } finally {
    stop.abort();
    await run;
  }
});

Deno.test("scoped informer: no namespaces is one cluster-wide watch", async () => {
  const kube = new FakeKube();
  kube.items.set("/apis/x.io/v1/routes", [obj("a", "r", "1"), obj("b", "r", "1")]);
  const informer = new ScopedInformer<ObjectView>({
    client: kube,
    resource: ROUTES,
    project: (o) => viewOf(o),
    namespaces: [],
    log: quiet,
    onChange: () => {},
  });
  const stop = new AbortController();
  const run = informer.run(stop.signal);
  try {
    await informer.waitForSync(stop.signal);
    assertEquals(kube.lists.map((l) => l.path), ["/apis/x.io/v1/routes"]);
    assertEquals(kube.lists[0].query?.labelSelector, undefined);
    assertEquals(informer.store.size, 2);
  } finally {
    stop.abort();
    await run;
  }
});

Deno.test("builder scope: an object whose labels stop matching is departed and queued; back in scope it is not", async () => {
  const kube = new FakeKube();
  kube.items.set("/apis/x.io/v1/namespaces/a/routes", [obj("a", "r", "1")]);
  const seen: string[] = [];
  const built = ControllerBuilder.for<ObjectView>({
    name: "routes",
    kube,
    log: quiet,
    metrics: new Metrics(new Registry()),
    workers: 1,
    scope: { namespaces: ["a"], labelSelector: "team=x" },
  }, { resource: ROUTES, project: (o) => viewOf(o) })
    .watches(GATES, () => [])
    .complete(({ store, departed }) => (key) => {
      seen.push(`${key} ${store.has(key) ? "cached" : departed.has(key) ? "departed" : "gone"}`);
      return Promise.resolve({});
    });
  const stop = new AbortController();
  const runs = built.unit.informers.map((i) => i.run(stop.signal));
  try {
    for (const i of built.unit.informers) await i.waitForSync(stop.signal);
    assertEquals(
      kube.lists.map((l) => [l.path, l.query?.labelSelector]).sort(),
      [
        ["/apis/x.io/v1/namespaces/a/gates", undefined],
        ["/apis/x.io/v1/namespaces/a/routes", "team=x"],
      ],
      "a dependency is watched in the namespaces, whatever its labels",
    );
    built.controller.start(stop.signal);
    await eventually("listed", () => seen.length === 1);
    await eventually("watching", () => kube.watchQueries.length === 2);
    const path = "/apis/x.io/v1/namespaces/a/routes";
    kube.send(path, { type: "DELETED", object: obj("a", "r", "2", { labels: { team: "y" } }) });
    await eventually("the departed key reconciled", () => seen.length === 2);
    assertEquals(seen[1], "a/r departed");
    assertEquals(built.departed.get("a/r")?.resourceVersion, "2", "as the DELETED event had it");

    kube.send(path, { type: "ADDED", object: obj("a", "r", "3", { labels: { team: "x" } }) });
    await eventually("back in scope", () => seen.length === 3);
    assertEquals(seen[2], "a/r cached");
    assertEquals(built.departed.has("a/r"), false);

    kube.send(path, {
      type: "DELETED",
      object: obj("a", "r", "4", { deletionTimestamp: "2026-01-01T00:00:00Z" }),
    });
    await eventually("deleted", () => !built.store.has("a/r"));
    assertEquals(built.departed.has("a/r"), false, "a deletion is no departure");

    kube.send(path, { type: "ADDED", object: obj("a", "s", "5", { labels: { team: "x" } }) });
    await eventually("s cached", () => built.store.has("a/s"));
    const terminating = { deletionTimestamp: "2026-01-01T00:00:00Z", finalizers: ["ours"] };
    kube.send(path, { type: "DELETED", object: obj("a", "s", "6", terminating) });
    await eventually("s departed", () => built.departed.has("a/s"));
    assertEquals(
      built.departed.get("a/s")?.finalizers,
      ["ours"],
      "being deleted but still finalized: it exists, its labels changed",
    );
  } finally {
    stop.abort();
    await built.controller.stop(100);
    await Promise.all(runs);
  }
});

Deno.test("registry: a kind that names its own namespace keeps it", async () => {
  const kube = new FakeKube();
  const registry = new InformerRegistry(kube, quiet, ["a", "b"]);
  const stop = new AbortController();
  const run = registry.get({ ...GATES, namespace: "traefik" }).run(stop.signal);
  try {
    await eventually("listed", () => kube.lists.length === 1);
    assertEquals(kube.lists.map((l) => l.path), ["/apis/x.io/v1/namespaces/traefik/gates"]);
  } finally {
    stop.abort();
    await run;
  }
});

Deno.test("scoped informer: a cluster-scoped kind is one cluster-wide watch whatever the namespaces", async () => {
  const kube = new FakeKube();
  const informer = new ScopedInformer<ObjectView>({
    client: kube,
    resource: {
      group: "",
      version: "v1",
      plural: "namespaces",
      kind: "Namespace",
      namespaced: false,
    },
    project: (o) => viewOf(o),
    namespaces: ["a", "b"],
    log: quiet,
    onChange: () => {},
  });
  const stop = new AbortController();
  const run = informer.run(stop.signal);
  try {
    await informer.waitForSync(stop.signal);
    assertEquals(kube.lists.map((l) => l.path), ["/api/v1/namespaces"]);
  } finally {
    stop.abort();
    await run;
  }
});
