import { status } from "@grpc/grpc-js";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { harness, IP } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { assertEquals, assertMatch, assertRejects } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { type RequestOptions } from "../../k8s/client.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import { INGRESSROUTE } from "../sources/ingressroute.ts";

const INGRESSROUTE_FINALIZER = INGRESSROUTE.finalizer;

const TAGS = ["kubernetes", "traefik", "ingress"];
const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

Deno.test("reconcile: partial failure records the created ids before throwing", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan", "c.lan")]));
  const orig = h.hosts.addHost.bind(h.hosts);
  h.hosts.addHost = (x) =>
    x.hostname === "b.lan"
      ? Promise.reject(
        new RouterHostsError({
          code: status.UNAVAILABLE,
          method: "AddHost",
          address: "x",
          serverMessage: "down",
        }),
      )
      : orig(x);
  const e = await assertRejects(() => h.run());
  assertEquals(e instanceof TerminalError, false, "retried with backoff");
  assertMatch(e.message, /1 of 3 host entries failed: b\.lan/);
  assertEquals(Object.keys(h.kube.annotation()!).sort(), ["a.lan", "c.lan"]);
  assertEquals(h.events.reasons(), ["SyncFailed"]);
});

Deno.test("reconcile: a failed annotation write keeps the ids in memory for the next pass", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  // Let the finalizer through, then fail the annotation write with 409.
  const origReq = h.kube.request.bind(h.kube);
  let n = 0;
  h.kube.request = <T>(opts: RequestOptions) => {
    if (n++ === 1) h.kube.conflictNext = true;
    return origReq<T>(opts);
  };
  await assertRejects(() => h.run());
  assertEquals(h.kube.annotation(), undefined);
  // Meanwhile b.lan is removed from the rules: its entry must not be orphaned.
  h.kube.edit((o) => (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }]);
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
  assertEquals(Object.keys(h.kube.annotation()!), ["a.lan"]);
});

Deno.test("reconcile: corrupt annotation → Warning event, entries found by comment, annotation rewritten", async () => {
  const hosts = new FakeHosts();
  const a = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const gone = hosts.add({
    ipAddress: IP,
    hostname: "gone.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const other = hosts.add({
    ipAddress: IP,
    hostname: "x.lan",
    comment: "k8s-ingress:apps/web2",
    tags: TAGS,
  });
  const h = harness(
    route([hostRule("a.lan", "b.lan")], {
      finalizers: [INGRESSROUTE_FINALIZER],
      annotations: { [HOST_IDS_ANNOTATION]: "{not json" },
    }),
    { hosts },
  );
  await h.run();
  assertEquals(h.events.reasons(), ["CorruptAnnotation"]);
  assertEquals(h.events.list[0].type, "Warning");
  const byName = h.hosts.byHostname();
  assertEquals(byName["a.lan"].id, a.id, "found and kept, not duplicated");
  assertEquals(
    h.hosts.entries.has(gone.id),
    false,
    "an entry no rule names any more is not orphaned",
  );
  assertEquals(h.hosts.entries.has(other.id), true, "another object's entry is untouched");
  assertEquals(h.kube.annotation(), { "a.lan": a.id, "b.lan": byName["b.lan"].id });
});

Deno.test("reconcile: corrupt annotation and the server down → error, annotation left as it is", async () => {
  const h = harness(route([hostRule("a.lan")], { annotations: { [HOST_IDS_ANNOTATION]: "[]" } }));
  h.hosts.down = true;
  await assertRejects(() => h.run());
  assertEquals(h.kube.obj.metadata!.annotations![HOST_IDS_ANNOTATION], "[]");
  assertEquals(h.events.reasons(), ["CorruptAnnotation"]);
});

Deno.test("reconcile: a copied annotation never takes over or deletes the original's entries", async () => {
  const hosts = new FakeHosts();
  const orig = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-ingress:apps/orig",
    tags: TAGS,
  });
  const origB = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s-ingress:apps/orig",
    tags: TAGS,
  });
  const h = harness(
    route([hostRule("c.lan")], {
      annotations: {
        [HOST_IDS_ANNOTATION]: JSON.stringify({ "c.lan": orig.id, "b.lan": origB.id }),
      },
    }),
    { hosts },
  );
  await h.run();
  assertEquals(hosts.entries.get(orig.id), orig);
  assertEquals(hosts.entries.get(origB.id), origB);
  const c = hosts.byHostname()["c.lan"];
  assertEquals(c.comment, "k8s-ingress:apps/web");
  assertEquals(h.kube.annotation(), { "c.lan": c.id });
});
