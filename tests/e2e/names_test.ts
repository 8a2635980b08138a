/**
 * Names against other tenants, end to end: one hostname has one holder
 * whatever the IP (HostMappings of two namespaces, a person's entry, an
 * IngressRoute), IPs are written in one spelling, reserved names never
 * reach the server, a route's hosts are capped, and an Event about a
 * 100,000-character rule (ASCII or multi-byte) still reaches the API
 * server. The operator as its own process, a real kube-apiserver (Traefik's
 * real CRDs), and the bed's router-hosts server (the real one with
 * ROUTER_HOSTS_BIN and ROUTER_HOSTS_REQUIRE_REAL=1).
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { uniqueName } from "../testbed/mod.ts";
import { bedTest } from "../testbed/bed.ts";
import { INGRESS_IP, IngressRoutes } from "./policy_fixture.ts";
import { entriesNamed, eventsAbout, waitEntries, waitEvent } from "../testbed/observe.ts";

const B = "`";
const bytes = (s: string) => new TextEncoder().encode(s).length;

bedTest({
  name: "names: one holder per hostname, canonical IPs, reserved names, host cap, long Event notes",
  traefik: true,
}, async ({ bed, ops, t }) => {
  await ops.start({
    args: [`--default-ingress-ip=${INGRESS_IP}`, "--max-hosts-per-object=3"],
  });
  const { hosts, hm, kube } = bed;
  const ir = new IngressRoutes(kube);
  const a = await kube.createNamespace(uniqueName("names-a"));
  const b = await kube.createNamespace(uniqueName("names-b"));

  await t.step(
    "namespace b's HostMapping for namespace a's name at another IP: HostnameConflict, no second entry",
    async () => {
      await hm.create(a, "good", { hostname: "good.home.arpa", ip: "10.66.0.2" });
      await hm.waitSynced(a, "good");
      await hm.create(b, "good", { hostname: "good.home.arpa", ip: "10.66.0.3" });
      const loser = await hm.waitFor(
        b,
        "good",
        "HostnameConflict",
        (o) => o.status?.conditions?.some((c) => c.reason === "HostnameConflict") === true,
      );
      assertEquals(loser.status?.phase, "Error");
      assertMatch(loser.status?.message ?? "", new RegExp(`k8s:${a}/good.*-> 10\\.66\\.0\\.2`));
      const ev = await waitEvent(
        kube,
        b,
        { kind: "HostMapping", name: "good" },
        "HostnameConflict",
      );
      assertMatch(ev.note, /good\.home\.arpa is already held/);
      const entries = await entriesNamed(bed, "good.home.arpa");
      assertEquals(entries.map((e) => [e.ipAddress, e.comment]), [[
        "10.66.0.2",
        `k8s:${a}/good`,
      ]]);
    },
  );

  await t.step("a person's entry is never shadowed: HostnameConflict naming it", async () => {
    const hand = await hosts.addHost({
      ipAddress: "10.66.0.9",
      hostname: "hand.home.arpa",
      comment: "added by hand",
    });
    await hm.create(b, "hand", { hostname: "hand.home.arpa", ip: "10.66.0.4" });
    const ev = await waitEvent(
      kube,
      b,
      { kind: "HostMapping", name: "hand" },
      "HostnameConflict",
    );
    assertMatch(ev.note, new RegExp(`a hand-made entry.*entry ${hand.id} -> 10\\.66\\.0\\.9`));
    assertEquals(await entriesNamed(bed, "hand.home.arpa"), [hand]);
  });

  await t.step(
    "an IngressRoute wanting a held name: HostnameConflict, no second entry",
    async () => {
      await ir.create(b, "web", ["good.home.arpa", "web.home.arpa"]);
      await waitEntries(
        hosts,
        "web.home.arpa",
        "the free name written",
        (es) => es.length === 1,
      );
      const ev = await waitEvent(
        kube,
        b,
        { kind: "IngressRoute", name: "web" },
        "HostnameConflict",
      );
      assertMatch(ev.note, new RegExp(`good\\.home\\.arpa \\(held by "k8s:${a}/good"`));
      assertEquals((await entriesNamed(bed, "good.home.arpa")).length, 1);
      await ir.delete(b, "web");
      await ir.waitGone(b, "web");
    },
  );

  await t.step("the holder lets go: the waiting HostMapping takes the name over", async () => {
    await hm.delete(a, "good");
    await hm.waitGone(a, "good");
    await hm.waitSynced(b, "good");
    const entries = await entriesNamed(bed, "good.home.arpa");
    assertEquals(entries.map((e) => [e.ipAddress, e.comment]), [[
      "10.66.0.3",
      `k8s:${b}/good`,
    ]]);
  });

  await t.step(
    "FD00::1, fd00::1 and fd00:0::1 make one entry, written fd00::1; a move is version +1",
    async () => {
      await hm.create(a, "v6", { hostname: "v6.home.arpa", ip: "FD00::1" });
      const synced = await hm.waitSynced(a, "v6");
      const [entry] = await entriesNamed(bed, "v6.home.arpa");
      assertEquals([entry.ipAddress, synced.status?.hostId], ["fd00::1", entry.id]);
      for (const ip of ["fd00::1", "fd00:0::1"]) {
        await hm.patch(a, "v6", { spec: { ip } });
        const o = await hm.waitSynced(a, "v6");
        assertEquals(o.status?.hostId, entry.id);
      }
      const after = await entriesNamed(bed, "v6.home.arpa");
      assertEquals(after.map((e) => [e.id, e.ipAddress, e.version]), [[
        entry.id,
        "fd00::1",
        "1",
      ]]);
      // An IP move sends the IP alone: the server appends one event, the version moves by 1.
      await hm.patch(a, "v6", { spec: { ip: "FD00::2" } });
      const moved = await hm.waitFor(a, "v6", "moved", (o) => o.status?.hostVersion === "2");
      assertEquals(moved.status?.hostId, entry.id);
      const [now] = await entriesNamed(bed, "v6.home.arpa");
      assertEquals([now.ipAddress, now.version], ["fd00::2", "2"]);
    },
  );

  await t.step("reserved names in a rule never reach the server", async () => {
    await ir.create(a, "local", ["localhost", "ip6-allnodes", "local.home.arpa"]);
    await waitEntries(hosts, "local.home.arpa", "the ordinary name", (es) => es.length === 1);
    const ev = await waitEvent(
      kube,
      a,
      { kind: "IngressRoute", name: "local" },
      "InvalidHostname",
    );
    assertMatch(ev.note, /localhost.*reserved name/);
    assertEquals(await entriesNamed(bed, "localhost"), []);
    assertEquals(await entriesNamed(bed, "ip6-allnodes"), []);
  });

  await t.step(
    "a route with 5 hosts over --max-hosts-per-object=3: the first 3, one Warning",
    async () => {
      const names = ["c1", "c2", "c3", "c4", "c5"].map((n) => `${n}.home.arpa`);
      await ir.create(a, "many", names);
      for (const n of names.slice(0, 3)) {
        await waitEntries(hosts, n, "kept", (es) => es.length === 1);
      }
      const ev = await waitEvent(
        kube,
        a,
        { kind: "IngressRoute", name: "many" },
        "TooManyHosts",
      );
      assertEquals(ev.type, "Warning");
      assertMatch(
        ev.note,
        /^5 hostnames, more than --max-hosts-per-object=3: the first 3 are kept/,
      );
      for (const n of names.slice(3)) assertEquals(await entriesNamed(bed, n), []);
      assertEquals(
        (await eventsAbout(kube, a, "IngressRoute", "many", "TooManyHosts")).length,
        1,
      );
    },
  );

  await t.step(
    "a 100,000-character rule, ASCII or multi-byte, still yields its Event",
    async () => {
      for (const [name, ch] of [["long-ascii", "x"], ["long-utf8", "é"]]) {
        // Never closed: one InvalidRule whose note quotes the whole rule.
        const match = `Host(${B}${ch.repeat(100_000)}`;
        await kube.postJson(ir.path(a), {
          apiVersion: "traefik.io/v1alpha1",
          kind: "IngressRoute",
          metadata: { name },
          spec: { routes: [{ match, kind: "Rule", services: [{ name: "svc", port: 80 }] }] },
        });
        const ev = await waitEvent(kube, a, { kind: "IngressRoute", name }, "InvalidRule");
        assertOk(bytes(ev.note) <= 1024, `${name}: ${bytes(ev.note)} bytes`);
        assertOk(bytes(ev.note) > 1000, `${name}: ${bytes(ev.note)} bytes: cut, not dropped`);
        assertMatch(ev.note, new RegExp(`^route 0: cannot parse match "Host\\(${B}${ch}{100}`));
        assertOk(ev.note.endsWith("…"), name);
      }
    },
  );
});
