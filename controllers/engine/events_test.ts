import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { harness, KEY } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { ConflictBoard } from "../hosts/policy.ts";

const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

Deno.test("reconcile: a malformed rule keeps tracked entries and reports InvalidRule once", async () => {
  const h = harness(route([hostRule("a.lan"), hostRule("b.lan")]));
  await h.run();
  h.kube.edit((o) =>
    (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }, {
      match: "Host(`b.lan`",
    }]
  );
  await h.run();
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()).sort(), ["a.lan", "b.lan"]);
  assertEquals(h.events.reasons(), ["InvalidRule"]);
});

Deno.test("reconcile: skipped values → InvalidHostname naming route and value, once per change", async () => {
  const h = harness(route([`HostRegexp(${B}.+${B})`, hostRule("a.lan", "*.lan")]));
  await h.run();
  await h.run();
  assertEquals(h.events.reasons(), ["InvalidHostname", "InvalidHostname"]);
  assertMatch(h.events.list[0].note, /route 0: "\.\+"/);
  assertMatch(h.events.list[1].note, /route 1: "\*\.lan".*wildcard/);
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
});

Deno.test("reconcile: no --default-ingress-ip → no request at all, one NoIngressIP event", async () => {
  const h = harness(route([hostRule("a.lan")]), { ingressIP: "" });
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, []);
  assertEquals(h.kube.patches, []);
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /a\.lan/);
});

Deno.test("policy: a conflict is reported once, not retried, and the loser takes over on release", async () => {
  const board = new ConflictBoard();
  const hosts = new FakeHosts();
  const winner = harness(route([hostRule("a.lan")]), { hosts, conflicts: board });
  await winner.run();
  const woken: string[] = [];
  const loserObj = route([hostRule("a.lan")]);
  loserObj.metadata!.name = "other";
  const loser = harness(loserObj, { hosts, conflicts: board, wake: (k) => woken.push(k) });
  await loser.run();
  await loser.run();
  assertEquals(loser.events.reasons(), ["HostnameConflict"], "once per object");
  assertEquals(loser.conflicting.get(KEY), 1);
  assertEquals(hosts.entries.size, 1);
  winner.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await winner.run();
  assertEquals(woken, [KEY], "the loser is woken when the holder deletes the entry");
  await loser.run();
  assertEquals(Object.values(hosts.byHostname()).map((e) => e.comment), [
    "k8s-ingress:apps/other",
  ]);
  assertEquals(loser.conflicting.get(KEY), 0);
});
