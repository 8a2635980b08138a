/**
 * Policy (policy.ts) in the HostMapping reconciler: refusals show in
 * status, conflicts are not retried and wake on release, upsert-only and
 * retain keep the entry, the owner tag is written. Against the in-memory
 * router-hosts fake and a fake API server applying merge patches.
 */
import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import type { RequestOptions } from "../../k8s/client.ts";
import type { EventRecorder, EventRegarding, EventType } from "../../k8s/events.ts";
import { ObjectWriter } from "../../k8s/object_writer.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import { Store } from "../../k8s/store.ts";
import { Logger } from "../../observability/log.ts";
import { HostMappingReconciler } from "./controller.ts";
import {
  HOSTMAPPING,
  HOSTMAPPING_FINALIZER,
  type HostMappingView,
  projectHostMapping,
} from "./view.ts";
import { ConflictBoard, DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";

/** One object; merge patches of metadata and status applied, resourceVersion bumped. */
class FakeKube {
  obj: KubeObject;
  writes = 0;
  constructor(obj: KubeObject) {
    this.obj = structuredClone(obj);
  }
  request<T>(opts: RequestOptions): Promise<T> {
    this.writes++;
    const md = this.obj.metadata!;
    if (Array.isArray(opts.body)) {
      // The finalizer JSON Patch (k8s/finalizer.ts): its add and remove ops.
      for (const op of opts.body as { op: string; path: string; value?: unknown }[]) {
        if (op.op === "add" && op.path === "/metadata/finalizers") {
          md.finalizers = op.value as string[];
        } else if (op.op === "add") md.finalizers = [...md.finalizers ?? [], op.value as string];
        else if (op.op === "remove") {
          const i = Number(op.path.split("/").at(-1));
          md.finalizers = md.finalizers!.filter((_, j) => j !== i);
        }
      }
      md.resourceVersion = String(Number(md.resourceVersion) + 1);
      return Promise.resolve(structuredClone(this.obj) as T);
    }
    const body = opts.body as { metadata?: Record<string, unknown>; status?: unknown };
    if (body.status) this.obj.status = body.status as Record<string, unknown>;
    md.resourceVersion = String(Number(md.resourceVersion) + 1);
    return Promise.resolve(structuredClone(this.obj) as T);
  }
}

class Events implements EventRecorder {
  reasons: string[] = [];
  notes: string[] = [];
  event(_r: EventRegarding, _t: EventType, reason: string, note: string): void {
    this.reasons.push(reason);
    this.notes.push(note);
  }
}

const hmObj = (name: string, hostname: string, annotations?: Record<string, string>) => ({
  apiVersion: "router-hosts.fzymgc.house/v1alpha1",
  kind: "HostMapping",
  metadata: {
    name,
    namespace: "home",
    uid: name,
    resourceVersion: "1",
    generation: 1,
    annotations,
  },
  spec: { hostname, ip: "10.0.0.5" },
});

function harness(
  obj: KubeObject,
  o: { hosts?: FakeHosts; policy?: Policy; board?: ConflictBoard; woken?: string[] } = {},
) {
  const hosts = o.hosts ?? new FakeHosts();
  const kube = new FakeKube(obj);
  const store = new Store<HostMappingView>();
  const events = new Events();
  const key = `home/${obj.metadata!.name}`;
  const conflicts = new Map<string, boolean>();
  const rec = new HostMappingReconciler({
    hosts,
    writer: new ObjectWriter({
      api: kube,
      resource: HOSTMAPPING,
      project: projectHostMapping,
      store,
    }),
    get: (k) => store.get(k),
    events,
    log: new Logger({ sink: () => {} }),
    policy: o.policy,
    conflicts: o.board,
    wake: (k) => o.woken?.push(k),
    conflicting: (k, on) => conflicts.set(k, on),
  });
  return {
    hosts,
    kube,
    events,
    conflicts,
    key,
    async run() {
      store.apply(key, projectHostMapping(structuredClone(kube.obj)));
      return await rec.reconcile(key);
    },
    deleteObj() {
      kube.obj.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
    },
  };
}

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });
const reasonOf = (o: KubeObject) =>
  (o.status as { conditions?: { reason: string }[] }).conditions?.[0].reason;

Deno.test("HostMapping: a name outside the domain filter shows in status, one Event, nothing written", async () => {
  const h = harness(hmObj("ext", "app.example.com"), {
    policy: policy({ domainFilter: ["home.arpa"] }),
  });
  await h.run();
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers ?? [], []);
  assertEquals(reasonOf(h.kube.obj), "DomainFiltered");
  assertEquals(h.events.reasons, ["DomainFiltered"]);
});

Deno.test("HostMapping: a conflict shows in status, is not retried, and the loser takes over on release", async () => {
  const hosts = new FakeHosts();
  const board = new ConflictBoard();
  const winner = harness(hmObj("a", "nas.home.arpa"), { hosts, board });
  await winner.run();
  const woken: string[] = [];
  const loser = harness(hmObj("b", "nas.home.arpa"), { hosts, board, woken });
  assertEquals(await loser.run(), {}, "no error, no retry");
  await loser.run();
  assertEquals(reasonOf(loser.kube.obj), "HostnameConflict");
  assertMatch(loser.events.notes[0], /k8s:home\/a/);
  assertEquals(loser.events.reasons, ["HostnameConflict"]);
  assertEquals(loser.conflicts.get("home/b"), true);
  winner.deleteObj();
  await winner.run();
  assertEquals(woken, ["home/b"]);
  await loser.run();
  assertEquals([...hosts.entries.values()].map((e) => e.comment), ["k8s:home/b"]);
  assertEquals((loser.kube.obj.status as { phase: string }).phase, "Synced");
  assertEquals(loser.conflicts.get("home/b"), false);
});

Deno.test("HostMapping: upsert-only adds no finalizer; retain keeps the entry; owner tag written", async () => {
  const up = harness(hmObj("u", "u.home.arpa"), {
    policy: policy({ mode: "upsert-only", ownerId: "a" }),
  });
  await up.run();
  assertEquals(up.kube.obj.metadata!.finalizers ?? [], []);
  assertEquals([...up.hosts.entries.values()].map((e) => e.tags), [["owner:a"]]);

  const keep = harness(
    hmObj("k", "k.home.arpa", { "router-hosts.fzymgc.house/on-delete": "retain" }),
  );
  await keep.run();
  assertEquals(keep.kube.obj.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  keep.deleteObj();
  await keep.run();
  assertEquals(keep.kube.obj.metadata!.finalizers, []);
  assertEquals([...keep.hosts.entries.values()].map((e) => e.tags), [["retained"]]);
});

Deno.test("HostMapping: a name held at another IP (object or person) is a conflict, never a second entry", async () => {
  const hosts = new FakeHosts();
  const theirs = hosts.add({
    ipAddress: "10.66.0.3",
    hostname: "nas.home.arpa",
    comment: "k8s:a/nas",
  });
  const hand = hosts.add({
    ipAddress: "10.66.0.4",
    hostname: "tv.home.arpa",
    comment: "added by hand",
  });
  for (
    const [name, hostname, holder] of [["b", "nas.home.arpa", theirs], [
      "c",
      "tv.home.arpa",
      hand,
    ]] as const
  ) {
    const h = harness(hmObj(name, hostname), { hosts });
    assertEquals(await h.run(), {}, "no error, no retry");
    assertEquals(reasonOf(h.kube.obj), "HostnameConflict");
    assertEquals(h.events.reasons, ["HostnameConflict"]);
    assertMatch(
      h.events.notes[0],
      new RegExp(`entry ${holder.id} -> ${holder.ipAddress.replaceAll(".", "\\.")}`),
    );
    assertEquals(h.conflicts.get(`home/${name}`), true);
  }
  assertEquals([...hosts.entries.values()], [theirs, hand]);
});

Deno.test("HostMapping: a reserved name or alias is refused in status (InvalidSpec), nothing written", async () => {
  for (
    const [hostname, aliases] of [["localhost", []], ["nas.home.arpa", ["ip6-allnodes"]]] as const
  ) {
    const obj = hmObj("r", hostname);
    const h = harness({ ...obj, spec: { ...obj.spec, aliases: [...aliases] } });
    assertEquals(await h.run(), {});
    await h.run();
    assertEquals(h.hosts.calls, [], "nothing reaches the server");
    assertEquals(reasonOf(h.kube.obj), "InvalidSpec");
    assertEquals(h.events.reasons, ["InvalidSpec"], "one Event per change");
    assertMatch(h.events.notes[0], /reserved name.*never written/);
  }
});
