import { Registry } from "prom-client";
import { Logger } from "../observability/log.ts";
import { Metrics } from "../observability/metrics.ts";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { ControllerBuilder, InformerRegistry, type WatchedKind } from "./builder.ts";
import type { KubeObject, ResourceType } from "./resource.ts";
import { type ObjectView, viewOf } from "./view.ts";
import { FakeObjectApi } from "../tests/fakes/kube_objects.ts";
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

Deno.test("builder: For + Watches; a watched kind's informer is shared; map decides the keys", async () => {
  const kube = new FakeObjectApi();
  const at = (plural: string, name: string) => `/apis/x.io/v1/namespaces/ns/${plural}/${name}`;
  kube.put(at("routes", "r1"), obj("r1", "1"));
  kube.put(at("routes", "r2"), obj("r2", "1"));
  kube.put(at("gates", "g"), obj("g", "1"));
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
    // The fake API server replays changes since each watch's resourceVersion,
    // so what is put from here on reaches the informers whenever they watch.
    kube.put(at("gates", "g"), obj("g", "2", { status: { ip: "1" } }));
    await eventually("the Gate's dependant reconciled", () => seen.length === 3);
    assertEquals(seen[2], "a ns/r1");

    kube.put(at("routes", "r2"), obj("r2", "2"));
    kube.put(
      at("routes", "r2"),
      obj("r2", "3", {
        metadata: {
          namespace: "ns",
          name: "r2",
          uid: "r2",
          resourceVersion: "3",
          labels: { x: "1" },
        },
      }),
    );
    await eventually("the filtered change passed", () => seen.length === 4);
    assertEquals(seen[3], "a ns/r2", "only the labelled change woke it");
    assertEquals(seen.some((s) => s.startsWith("b ")), false, "b was never started");
  } finally {
    stop.abort();
    await a.controller.stop(100);
    await Promise.all(runs);
  }
});
