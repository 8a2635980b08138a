import { Registry } from "prom-client";
import { Logger } from "../observability/log.ts";
import { Metrics } from "../observability/metrics.ts";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { ControllerBuilder, InformerRegistry, type WatchedKind } from "./builder.ts";
import type { Query, RequestOptions, WatchEvent } from "./client.ts";
import type { KubeObject, ResourceType } from "./resource.ts";
import { type ObjectView, viewOf } from "./view.ts";
import type { ListWatchClient } from "./watcher.ts";
import { eventually } from "../tests/testbed/operator.ts";

const quiet = new Logger({ level: "error", sink: () => {} });
const rt = (plural: string): ResourceType => ({
  group: "x.io",
  version: "v1",
  plural,
  kind: plural,
  namespaced: true,
});
const ROUTES = rt("routes");
const GATES: WatchedKind<{ ip?: string }> = {
  resource: rt("gates"),
  project: (o) => ({ ip: (o.status as { ip?: string } | undefined)?.ip }),
};

const obj = (name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { namespace: "ns", name, uid: name, resourceVersion: rv },
  ...extra,
});

/** Lists `items` per collection path, then streams whatever the test sends. */
class FakeKube implements ListWatchClient {
  readonly items = new Map<string, KubeObject[]>();
  readonly watchers = new Map<string, ((e: WatchEvent) => void)[]>();
  watches = 0;

  list<T>(path: string): Promise<T> {
    return Promise.resolve(
      { metadata: { resourceVersion: "1" }, items: this.items.get(path) ?? [] } as T,
    );
  }
  async *watch(path: string, _q: Query, signal: AbortSignal): AsyncIterable<WatchEvent> {
    this.watches++;
    const queue: WatchEvent[] = [];
    let wake = () => {};
    this.watchers.set(path, [...this.watchers.get(path) ?? [], (e) => {
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
    for (const w of this.watchers.get(path) ?? []) w(e);
  }
  request<T>(_o: RequestOptions): Promise<T> {
    return Promise.reject(new Error("no writes here"));
  }
}

Deno.test("builder: For + Watches; a watched kind's informer is shared; map decides the keys", async () => {
  const kube = new FakeKube();
  kube.items.set("/apis/x.io/v1/routes", [obj("r1", "1"), obj("r2", "1")]);
  kube.items.set("/apis/x.io/v1/gates", [obj("g", "1")]);
  const seen: string[] = [];
  const informers = new InformerRegistry(kube, quiet);
  const build = (name: string) =>
    ControllerBuilder.for<ObjectView>({
      name,
      kube,
      log: quiet,
      metrics: new Metrics(new Registry()),
      workers: 1,
      informers,
    }, {
      resource: ROUTES,
      project: (o) => viewOf(o),
      needsReconcile: (prev, next) => prev?.metaHash !== next.metaHash,
    })
      .watches(GATES, (key) => key === "ns/g" ? [`ns/r1`] : [])
      .complete(() => (key) => {
        seen.push(`${name} ${key}`);
        return Promise.resolve({});
      });
  const a = build("a"), b = build("b");
  assertOk(a.unit.informers[1] === b.unit.informers[1], "one Gates informer for both");

  const stop = new AbortController();
  const runs = [...new Set([...a.unit.informers, ...b.unit.informers])].map((i) =>
    i.run(stop.signal)
  );
  try {
    for (const i of a.unit.informers) await i.waitForSync(stop.signal);
    a.controller.start(stop.signal);
    await eventually("the listed keys reconciled", () => seen.length === 2);
    assertEquals(seen.toSorted(), ["a ns/r1", "a ns/r2"]);
    await eventually("watching", () => kube.watches === 3);

    kube.send("/apis/x.io/v1/gates", {
      type: "MODIFIED",
      object: obj("g", "2", { status: { ip: "1" } }),
    });
    await eventually("the Gate's dependant reconciled", () => seen.length === 3);
    assertEquals(seen[2], "a ns/r1");

    kube.send("/apis/x.io/v1/routes", { type: "MODIFIED", object: obj("r2", "2") });
    kube.send("/apis/x.io/v1/routes", {
      type: "MODIFIED",
      object: obj("r2", "3", {
        metadata: {
          namespace: "ns",
          name: "r2",
          uid: "r2",
          resourceVersion: "3",
          labels: { x: "1" },
        },
      }),
    });
    await eventually("the filtered change passed", () => seen.length === 4);
    assertEquals(seen[3], "a ns/r2", "only the labelled change woke it");
    assertEquals(seen.some((s) => s.startsWith("b ")), false, "b was never started");
  } finally {
    stop.abort();
    await a.controller.stop(100);
    await Promise.all(runs);
  }
});
