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
  assertEquals(result, { failures: [], writes: 2 });
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
  assertEquals(result, { failures: [], writes: 1 });
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

Deno.test("outside the domain filter, or not A/AAAA: skipped, nothing written", async () => {
  const { hosts, provider, changes } = setup({ domainFilter: ["home.arpa"] });
  const result = await provider.apply(plan({
    create: [
      { dnsName: "a.example.com", recordType: "A", targets: ["10.0.0.1"] },
      { dnsName: "t.home.arpa", recordType: "TXT", targets: ["heritage=external-dns"] },
    ],
  }));
  assertEquals(result, { failures: [], writes: 0 });
  assertEquals(hosts.entries.size, 0);
  assertEquals(changes, ["create:skipped", "create:skipped"]);
});

Deno.test("a create for an entry we already hold is a no-op (external-dns retrying)", async () => {
  const { hosts, provider } = setup();
  hosts.add(ours("a.home.arpa", "10.0.0.1"));
  const result = await provider.apply(plan({
    create: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
  }));
  assertEquals(result, { failures: [], writes: 0 });
  assertEquals(hosts.calls, ["ListHosts"]);
});

Deno.test("adjust keeps the indexes of A and AAAA endpoints", () => {
  const { provider } = setup();
  assertEquals(
    provider.adjust([
      { dnsName: "a", recordType: "A" },
      { dnsName: "a", recordType: "TXT" },
      { dnsName: "b", recordType: "AAAA" },
    ]),
    [0, 2],
  );
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
  assertEquals(result, { failures: [], writes: 1 });
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
  assertEquals(result, { failures: [], writes: 1 });
  assertEquals(hosts.entries.get(a.id)?.aliases, ["x.home.arpa"]);
});
