/**
 * Policy (hosts/policy.ts) in the HostMapping reconciler: refusals show in
 * status, conflicts are not retried and wake on release, upsert-only and
 * retain keep the entry, the owner tag is written; and the finalizer guard.
 * Against the router-hosts fake and the one fake API server.
 */
import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { hostMappingRig } from "../../tests/fakes/hostmapping.ts";
import { HOSTMAPPING_FINALIZER } from "./view.ts";
import { ConflictBoard, DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";

const harness = (
  name: string,
  hostname: string,
  o: {
    annotations?: Record<string, string>;
    hosts?: FakeHosts;
    policy?: Policy;
    board?: ConflictBoard;
  } = {},
) => hostMappingRig({ ...o, name, spec: { hostname, ip: "10.0.0.5" } });

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

const reasonOf = (r: ReturnType<typeof harness>) => r.synced().reason;

Deno.test("HostMapping: a name outside the domain filter shows in status, one Event, nothing written", async () => {
  const h = harness("ext", "app.example.com", { policy: policy({ domainFilter: ["home.arpa"] }) });
  await h.reconcile();
  await h.reconcile();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.object()!.metadata!.finalizers ?? [], []);
  assertEquals(reasonOf(h), "DomainFiltered");
  assertEquals(h.events.map((e) => e.reason), ["DomainFiltered"]);
});

Deno.test("HostMapping: a conflict shows in status, is not retried, and the loser takes over on release", async () => {
  const hosts = new FakeHosts();
  const board = new ConflictBoard();
  const winner = harness("a", "nas.home.arpa", { hosts, board });
  await winner.reconcile();
  const loser = harness("b", "nas.home.arpa", { hosts, board });
  assertEquals(await loser.reconcile(), undefined, "no error, no retry");
  await loser.reconcile();
  assertEquals(reasonOf(loser), "HostnameConflict");
  assertMatch(loser.events[0].note, /"k8s:home\/a", entry /);
  assertEquals(loser.events.map((e) => e.reason), ["HostnameConflict"]);
  assertEquals(loser.gauges.conflicts, 1, "router_hosts_hostname_conflicts");
  winner.delete();
  await winner.reconcile();
  assertEquals(loser.woken, ["home/b"]);
  await loser.reconcile();
  assertEquals([...hosts.entries.values()].map((e) => e.comment), ["k8s:home/b"]);
  assertEquals(loser.status().phase, "Synced");
  assertEquals(loser.gauges.conflicts, 0);
});

Deno.test("HostMapping: upsert-only adds no finalizer; retain keeps the entry; owner tag written", async () => {
  const up = harness("u", "u.home.arpa", { policy: policy({ mode: "upsert-only", ownerId: "a" }) });
  await up.reconcile();
  assertEquals(up.object()!.metadata!.finalizers ?? [], []);
  assertEquals([...up.hosts.entries.values()].map((e) => e.tags), [["owner:a"]]);

  const keep = harness("k", "k.home.arpa", {
    annotations: { "router-hosts.fzymgc.house/on-delete": "retain" },
  });
  await keep.reconcile();
  assertEquals(keep.object()!.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  keep.delete();
  await keep.reconcile();
  assertEquals(keep.object(), undefined, "finalizer removed, so the object is gone");
  assertEquals([...keep.hosts.entries.values()].map((e) => e.tags), [["retained"]]);
  assertEquals(keep.gauges.managed, 0);
});

Deno.test("HostMapping: a finalizer another controller added meanwhile is never lost", async () => {
  const h = harness("f", "f.home.arpa");
  // Another controller adds its finalizer; our cache has not seen it yet.
  const obj = h.object()!;
  obj.metadata!.finalizers = ["example.com/other"];
  h.api.put(h.path, obj);
  const err = await h.reconcile();
  assertMatch(String(err), /test of \/metadata\/finalizers failed/);
  assertEquals(h.object()!.metadata!.finalizers, ["example.com/other"]);
  assertEquals(h.hosts.entries.size, 0, "no entry before our finalizer is in place");
  // The watch brings the fresh list: ours is appended after it.
  await h.reconcile();
  assertEquals(h.object()!.metadata!.finalizers, ["example.com/other", HOSTMAPPING_FINALIZER]);
  assertEquals(h.hosts.entries.size, 1);
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
    const h = harness(name, hostname, { hosts });
    assertEquals(await h.reconcile(), undefined, "no error, no retry");
    assertEquals(reasonOf(h), "HostnameConflict");
    assertEquals(h.events.map((e) => e.reason), ["HostnameConflict"]);
    assertMatch(
      h.events[0].note,
      new RegExp(`entry ${holder.id} -> ${holder.ipAddress.replaceAll(".", "\\.")}`),
    );
    assertEquals(h.gauges.conflicts, 1);
  }
  assertEquals([...hosts.entries.values()], [theirs, hand]);
});

Deno.test("HostMapping: a reserved name or alias is refused in status (InvalidSpec), nothing written", async () => {
  for (
    const [hostname, aliases] of [["localhost", []], ["nas.home.arpa", ["ip6-allnodes"]]] as const
  ) {
    const h = hostMappingRig({
      name: "r",
      spec: { hostname, ip: "10.0.0.5", aliases: [...aliases] },
    });
    assertEquals(await h.reconcile(), undefined);
    await h.reconcile();
    assertEquals(h.hosts.calls, [], "nothing reaches the server");
    assertEquals(reasonOf(h), "InvalidSpec");
    assertEquals(h.events.map((e) => e.reason), ["InvalidSpec"], "one Event per change");
    assertMatch(h.events[0].note, /reserved name.*never written/);
  }
});
