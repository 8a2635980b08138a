import { assertEquals, assertMatch } from "../tests/assert.ts";
import { FakeHosts } from "../tests/fakes/router_hosts.ts";
import { DEFAULT_POLICY, type Policy } from "../controllers/hosts/policy.ts";
import { Logger } from "../observability/log.ts";
import { WebhookProvider } from "./provider.ts";
import type { Changes } from "./endpoint.ts";

const ours = (hostname: string, ip: string, tags = ["external-dns"]) => ({
  hostname,
  ipAddress: ip,
  comment: `external-dns:${hostname}`,
  tags,
});

function setup(policy: Partial<Policy> = {}) {
  const hosts = new FakeHosts();
  const changes: string[] = [];
  const provider = new WebhookProvider({
    hosts,
    policy: { ...DEFAULT_POLICY, ...policy },
    log: new Logger({ sink: () => {} }),
    onChange: (action, outcome) => changes.push(`${action}:${outcome}`),
  });
  return { hosts, provider, changes };
}

/** A result with no failure, nothing skipped or cancelled. */
const done = (writes: number, skipped = 0, skipSample: string[] = []) => ({
  failures: [],
  writes,
  skipped,
  skipSample,
  cancelled: 0,
});

const plan = (c: Changes): Required<Changes> => ({
  create: [],
  updateOld: [],
  updateNew: [],
  delete: [],
  ...c,
});

Deno.test("create: one entry per target, with our comment and tags (owner tag with an owner id)", async () => {
  const { hosts, provider, changes } = setup({ ownerId: "lab" });
  const result = await provider.apply(plan({
    create: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1", "10.0.0.2"] }],
  }));
  assertEquals(result, done(2));
  assertEquals(
    [...hosts.entries.values()].map((e) => [e.hostname, e.ipAddress, e.comment, e.tags]),
    [
      ["a.home.arpa", "10.0.0.1", "external-dns:a.home.arpa", ["external-dns", "owner:lab"]],
      ["a.home.arpa", "10.0.0.2", "external-dns:a.home.arpa", ["external-dns", "owner:lab"]],
    ],
  );
  assertEquals(changes, ["create:success", "create:success"]);
});

Deno.test("records lists only our entries under the domain filter, never a person's or another owner's", async () => {
  const { hosts, provider } = setup({ domainFilter: ["home.arpa"], ownerId: "lab" });
  hosts.add(ours("a.home.arpa", "10.0.0.1", ["external-dns", "owner:lab"]));
  hosts.add(ours("b.home.arpa", "10.0.0.2")); // before the owner id: adoptable
  hosts.add(ours("c.home.arpa", "10.0.0.3", ["external-dns", "owner:other"]));
  hosts.add(ours("d.example.com", "10.0.0.4"));
  hosts.add({ hostname: "nas.home.arpa", ipAddress: "10.0.0.5", comment: "mine", tags: [] });
  hosts.add({
    hostname: "hm.home.arpa",
    ipAddress: "10.0.0.6",
    comment: "k8s:default/hm",
    tags: [],
  });
  assertEquals((await provider.records()).map((e) => e.dnsName), ["a.home.arpa", "b.home.arpa"]);
  assertEquals(hosts.calls, ["ListHosts"]);
});

Deno.test("update: a changed target moves the entry in place with the version just read", async () => {
  const { hosts, provider } = setup();
  const a = hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const result = await provider.apply(plan({
    updateOld: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    updateNew: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.9"] }],
  }));
  assertEquals(result.failures, []);
  assertEquals(hosts.entries.get(a.id)?.ipAddress, "10.0.0.9");
  assertEquals(hosts.calls, ["ListHosts", "UpdateHost"]);
});

Deno.test("update: more targets add entries, fewer delete the extra ones", async () => {
  const { hosts, provider } = setup();
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  hosts.add(ours("b.home.arpa", "10.0.0.1"));
  hosts.add(ours("b.home.arpa", "10.0.0.2"));
  const result = await provider.apply(plan({
    updateOld: [
      { dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.1", "10.0.0.2"] },
    ],
    updateNew: [
      { dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1", "10.0.0.3"] },
      { dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.2"] },
    ],
  }));
  assertEquals(result.failures, []);
  assertEquals(
    [...hosts.entries.values()].map((e) => `${e.hostname} ${e.ipAddress}`).sort(),
    ["a.home.arpa 10.0.0.1", "a.home.arpa 10.0.0.3", "b.home.arpa 10.0.0.2"],
  );
});

Deno.test("delete removes our entries only; a person's entry with the same name stays", async () => {
  const { hosts, provider } = setup();
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const mine = hosts.add({
    hostname: "a.home.arpa",
    ipAddress: "10.0.0.2",
    comment: "mine",
    tags: [],
  });
  const result = await provider.apply(plan({
    delete: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1", "10.0.0.2"] }],
  }));
  assertEquals(result, done(1));
  assertEquals([...hosts.entries.keys()], [mine.id]);
});

Deno.test("partial failure: the other changes land, the failed name is reported", async () => {
  const { hosts, provider, changes } = setup();
  const taken = hosts.add({
    hostname: "b.home.arpa",
    ipAddress: "10.0.0.2",
    comment: "mine",
    tags: [],
  });
  const moving = hosts.add(ours("c.home.arpa", "10.0.0.3"));
  hosts.interfere = 1; // c's version moves between our read and our update
  const result = await provider.apply(plan({
    create: [
      { dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.2"] },
    ],
    updateOld: [{ dnsName: "c.home.arpa", recordType: "A", targets: ["10.0.0.3"] }],
    updateNew: [{ dnsName: "c.home.arpa", recordType: "A", targets: ["10.0.0.4"] }],
  }));
  assertEquals(result.writes, 1);
  assertEquals(result.failures.length, 2);
  assertMatch(result.failures[0], /^update c\.home\.arpa 10\.0\.0\.3 → 10\.0\.0\.4: .*conflict/);
  assertMatch(
    result.failures[1],
    new RegExp(`^create b\\.home\\.arpa 10\\.0\\.0\\.2: .*did not write.*${taken.id}`),
  );
  assertEquals(hosts.entries.get(taken.id)?.comment, "mine");
  assertEquals(hosts.entries.get(moving.id)?.ipAddress, "10.0.0.3");
  assertEquals(changes.sort(), ["create:failure", "create:success", "update:failure"]);
});

Deno.test("one hostname, one holder: a name held by another at another IP is not shadowed", async () => {
  const { hosts, provider, changes } = setup();
  const held = hosts.add({
    hostname: "nas.home.arpa",
    ipAddress: "10.0.0.9",
    comment: "the NAS, by hand",
    tags: ["manual"],
  });
  const result = await provider.apply(plan({
    create: [{ dnsName: "nas.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
  }));
  assertEquals(result.writes, 0);
  assertMatch(
    result.failures[0],
    new RegExp(`^create nas\\.home\\.arpa 10\\.0\\.0\\.1: .*${held.id}`),
  );
  assertEquals([...hosts.entries.values()].map((e) => `${e.hostname} ${e.ipAddress}`), [
    "nas.home.arpa 10.0.0.9",
  ]);
  assertEquals(changes, ["create:failure"]);
});

Deno.test("outside the domain filter, or not A/AAAA: skipped, nothing written", async () => {
  const { hosts, provider, changes } = setup({ domainFilter: ["home.arpa"] });
  const result = await provider.apply(plan({
    create: [
      { dnsName: "a.example.com", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "t.home.arpa", recordType: "TXT", targets: ["heritage=external-dns"] },
    ],
  }));
  assertEquals(result.skipped, 2);
  assertEquals(result.failures, []);
  assertEquals(hosts.entries.size, 0);
  assertEquals(changes, ["create:skipped", "create:skipped"]);
});

Deno.test("what can never be written is skipped with its reason, never written, never failed", async () => {
  const { hosts, provider, changes } = setup();
  const result = await provider.apply(plan({
    create: [
      { dnsName: "a.home.arpa", recordType: "A", targets: ["not-an-ip"] },
      { dnsName: `${"x".repeat(300)}.home.arpa`, recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "a..b.home.arpa", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "a.home.arpa\n10.6.6.6 evil", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "c.home.arpa", targets: ["10.0.0.1"] },
      { dnsName: "d.home.arpa", recordType: "AAAA", targets: ["10.0.0.1"] },
      { dnsName: "e.home.arpa", recordType: "A", targets: ["10.0.0.5", "bogus"] },
    ],
  }));
  assertEquals(result.failures, []);
  assertEquals(result.writes, 1);
  assertEquals(result.skipped, 8);
  assertEquals(result.skipSample.length, 5);
  assertMatch(
    result.skipSample[0],
    /"a\.home\.arpa" A: no target is an IPv4 address \("not-an-ip"\)/,
  );
  assertMatch(result.skipSample[1], /exceeds maximum length/);
  assertMatch(result.skipSample[2], /consecutive dots/);
  assertMatch(result.skipSample[3], /invalid label/);
  assertMatch(result.skipSample[4], /cannot be empty/);
  assertEquals([...hosts.entries.values()].map((e) => `${e.hostname} ${e.ipAddress}`), [
    "e.home.arpa 10.0.0.5",
  ]);
  assertEquals(changes.filter((c) => c === "create:skipped").length, 8);
});

Deno.test("IPv6 targets are written and matched in one canonical spelling", async () => {
  const { hosts, provider } = setup();
  hosts.add(ours("six.home.arpa", "FD00:0::1"));
  const result = await provider.apply(plan({
    create: [
      { dnsName: "six.home.arpa", recordType: "AAAA", targets: ["FD00::1", "fd00:0::1"] },
      { dnsName: "v6.home.arpa", recordType: "AAAA", targets: ["FD00::2", "fd00:0:0::2"] },
    ],
  }));
  assertEquals(result, done(1));
  assertEquals(
    [...hosts.entries.values()].map((e) => `${e.hostname} ${e.ipAddress}`),
    ["six.home.arpa FD00:0::1", "v6.home.arpa fd00::2"],
  );
  const deleted = await provider.apply(plan({
    delete: [{ dnsName: "six.home.arpa", recordType: "AAAA", targets: ["fd00::1"] }],
  }));
  assertEquals(deleted, done(1));
});

Deno.test("an IP move sends only the address: the entry's version moves by one", async () => {
  const { hosts, provider } = setup();
  const a = hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const before = Number(a.version);
  await provider.apply(plan({
    updateOld: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    updateNew: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.2"] }],
  }));
  const after = hosts.entries.get(a.id)!;
  assertEquals([after.ipAddress, Number(after.version) - before], ["10.0.0.2", 1]);
  // Tags that differ from ours (an owner id set since) are sent with the move.
  const { hosts: hosts2, provider: owned } = setup({ ownerId: "lab" });
  const b = hosts2.add(ours("b.home.arpa", "10.0.0.1"));
  await owned.apply(plan({
    updateOld: [{ dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    updateNew: [{ dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.2"] }],
  }));
  assertEquals(hosts2.entries.get(b.id)?.tags, ["external-dns", "owner:lab"]);
});

Deno.test("an aborted request starts no write; what was not started is counted", async () => {
  const { hosts, provider, changes } = setup();
  const abort = new AbortController();
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const creates = Array.from({ length: 40 }, (_, i) => ({
    dnsName: `n${i}.home.arpa`,
    recordType: "A",
    targets: ["10.0.1.1"],
  }));
  // The client goes away once the first writes are under way.
  const addHost = hosts.addHost.bind(hosts);
  hosts.addHost = (h) => {
    abort.abort(new Error("the client closed the connection"));
    return addHost(h);
  };
  const result = await provider.apply(plan({ create: creates }), abort.signal);
  assertEquals(result.writes <= 8, true, `writes ${result.writes}`);
  assertEquals(result.writes + result.cancelled, 40);
  assertEquals(changes.filter((c) => c === "create:cancelled").length, result.cancelled);
  const late = await provider.apply(plan({ create: creates }), abort.signal);
  assertEquals([late.writes, late.cancelled], [0, 40]);
});

Deno.test("one POST /records at a time, at most 8 writes at once across requests", async () => {
  const { hosts, provider } = setup();
  let running = 0;
  let peak = 0;
  const addHost = hosts.addHost.bind(hosts);
  hosts.addHost = async (h) => {
    peak = Math.max(peak, ++running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
    return addHost(h);
  };
  const batch = (p: string) =>
    plan({
      create: Array.from({ length: 30 }, (_, i) => ({
        dnsName: `${p}${i}.home.arpa`,
        recordType: "A",
        targets: ["10.0.2.1"],
      })),
    });
  const results = await Promise.all([provider.apply(batch("a")), provider.apply(batch("b"))]);
  assertEquals(results.map((r) => r.writes), [30, 30]);
  assertEquals(peak, 8);
});

Deno.test("a create for an entry we already hold is a no-op (external-dns retrying)", async () => {
  const { hosts, provider } = setup();
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const result = await provider.apply(plan({
    create: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
  }));
  assertEquals(result, done(0));
  assertEquals(hosts.calls, ["ListHosts"]);
});

Deno.test("adjust keeps what can be written, canonical, and counts the rest by reason", async () => {
  const { provider } = setup({ domainFilter: ["home.arpa"] });
  const result = await provider.adjust([
    { dnsName: "A.Home.Arpa.", recordType: "A", targets: ["10.0.0.1", "10.0.0.1", "x"] },
    { dnsName: "a.home.arpa", recordType: "TXT" },
    { dnsName: "b.home.arpa", recordType: "AAAA", targets: ["FD00:0::1"] },
    { dnsName: "c.example.com", recordType: "A", targets: ["10.0.0.1"] },
    { dnsName: "localhost..home.arpa", recordType: "A", targets: ["10.0.0.1"] },
    { dnsName: "d.home.arpa", recordType: "A", targets: ["not-an-ip"] },
  ]);
  assertEquals(result.kept, [
    { index: 0, name: "a.home.arpa", targets: ["10.0.0.1"] },
    { index: 2, name: "b.home.arpa", targets: ["fd00::1"] },
  ]);
  assertEquals(result.dropped, {
    bad_target: 1,
    record_type: 1,
    outside_domain_filter: 1,
    invalid_name: 1,
    no_address_target: 1,
  });
  assertEquals(result.sample.length, 5);
});

Deno.test("adjust is linear: 300,000 endpoints, half dropped, in one pass", async () => {
  const { provider } = setup();
  const endpoints = Array.from({ length: 300_000 }, (_, i) => ({
    dnsName: `n${i}.home.arpa`,
    recordType: i % 2 ? "TXT" : "A",
    targets: ["10.0.0.1"],
  }));
  const result = await provider.adjust(endpoints);
  assertEquals(result.kept.length, 150_000);
  assertEquals(result.dropped, { record_type: 150_000 });
  assertEquals(result.sample.length, 5);
});

Deno.test("--policy=upsert-only: deletes are skipped, creates and updates still land", async () => {
  const { hosts, provider, changes } = setup({ mode: "upsert-only" });
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  hosts.add(ours("b.home.arpa", "10.0.0.2"));
  const result = await provider.apply(plan({
    delete: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    updateOld: [{ dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.2"] }],
    updateNew: [{ dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.3"] }],
  }));
  assertEquals(
    result,
    done(1, 1, ["delete a.home.arpa 10.0.0.1: not done under --policy=upsert-only"]),
  );
  assertEquals(
    [...hosts.entries.values()].map((e) => `${e.hostname} ${e.ipAddress}`),
    ["a.home.arpa 10.0.0.1", "b.home.arpa 10.0.0.3"],
  );
  assertEquals(changes, ["delete:skipped", "update:success"]);
});

Deno.test("delete of a name that is an alias of our entry removes the alias, keeps the entry", async () => {
  const { hosts, provider } = setup();
  const a = hosts.add({
    ...ours("a.home.arpa", "10.0.0.1"),
    aliases: ["www.home.arpa", "x.home.arpa"],
  });
  assertEquals((await provider.records()).map((e) => e.dnsName), [
    "a.home.arpa",
    "www.home.arpa",
    "x.home.arpa",
  ]);
  const result = await provider.apply(plan({
    delete: [{ dnsName: "www.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
  }));
  assertEquals(result, done(1));
  assertEquals(hosts.entries.get(a.id)?.aliases, ["x.home.arpa"]);
});

Deno.test("adjust lets the event loop turn during a large request (probes keep answering)", async () => {
  const { provider } = setup();
  let turns = 0;
  const timer = setInterval(() => turns++, 0);
  const endpoints = Array.from({ length: 20_000 }, (_, i) => ({
    dnsName: `n${i}.home.arpa`,
    recordType: "A",
    targets: ["10.0.0.1"],
  }));
  const result = await provider.adjust(endpoints);
  const during = turns;
  clearInterval(timer);
  assertEquals(result.kept.length, 20_000);
  assertEquals(during > 0, true, "no timer ran while 20,000 endpoints were checked");
});

Deno.test("reserved names (localhost, ip6-*) are never planned nor written", async () => {
  const { hosts, provider } = setup();
  const sent = ["localhost", "localhost.localdomain", "ip6-localhost", "broadcasthost"].map((
    dnsName,
  ) => ({ dnsName, recordType: "A", targets: ["10.1.0.17"] }));
  const adjusted = await provider.adjust(sent);
  assertEquals([adjusted.kept, adjusted.dropped], [[], { invalid_name: 4 }]);
  const result = await provider.apply(plan({ create: sent }));
  assertEquals([result.writes, result.skipped, result.failures], [0, 4, []]);
  assertEquals(hosts.entries.size, 0);
});
