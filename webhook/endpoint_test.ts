import { assertEquals, assertMatch, assertThrows } from "../tests/assert.ts";
import type { HostEntry } from "../grpc/hosts_port.ts";
import {
  BadBody,
  domainFilterJson,
  entriesToEndpoints,
  isWebhookEntry,
  parseChanges,
  parseEndpoints,
  recordTypeOf,
  splitSupported,
} from "./endpoint.ts";
import { checkEndpoint } from "./endpoint.ts";

const entry = (p: Partial<HostEntry>): HostEntry => ({
  id: "01J",
  ipAddress: "10.0.0.1",
  hostname: "a.home.arpa",
  comment: "external-dns:a.home.arpa",
  tags: ["external-dns"],
  aliases: [],
  version: "1",
  ...p,
});

Deno.test("the OpenAPI examples parse: GET /records answer, POST /records create, adjustendpoints", () => {
  // external-dns api/webhook.yaml (v0.19.0), examples as JSON.
  assertEquals(
    parseEndpoints([{
      dnsName: "test.example.com",
      recordTTL: 10,
      recordType: "A",
      targets: ["1.2.3.4"],
    }]),
    [{ dnsName: "test.example.com", recordTTL: 10, recordType: "A", targets: ["1.2.3.4"] }],
  );
  assertEquals(
    parseChanges({ create: [{ dnsName: "test.example.com", recordTTL: 10, recordType: "A" }] }),
    {
      create: [{ dnsName: "test.example.com", recordTTL: 10, recordType: "A" }],
      updateOld: [],
      updateNew: [],
      delete: [],
    },
  );
  assertEquals(
    parseEndpoints([{
      dnsName: "foo.example.org",
      targets: ["::1"],
      recordType: "CNAME",
      setIdentifier: "v1",
      recordTTL: 60,
      labels: { foo: "bar" },
      providerSpecific: [{ name: "foo", value: "bar" }],
    }])[0].providerSpecific,
    [{ name: "foo", value: "bar" }],
  );
});

Deno.test("plan.Changes as Go's encoding/json writes it: omitted and null lists are empty", () => {
  assertEquals(parseChanges({}), { create: [], updateOld: [], updateNew: [], delete: [] });
  assertEquals(
    parseChanges({ create: null, delete: [{ dnsName: "a.home.arpa", recordType: "A" }] }).delete,
    [{ dnsName: "a.home.arpa", recordType: "A" }],
  );
  assertEquals(parseEndpoints(null), []);
});

Deno.test("bad bodies are BadBody errors naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [[], /want a JSON object/],
    [{ create: {} }, /create: want a list of endpoints/],
    [{ create: [{ dnsName: 3 }] }, /create\[0\]\.dnsName: want a string/],
    [{ delete: [{ targets: "1.2.3.4" }] }, /delete\[0\]\.targets: want a list of strings/],
    [{ create: [{ recordTTL: 1.5 }] }, /recordTTL: want a whole number/],
    [{ create: [{ labels: { a: 1 } }] }, /labels: want an object of strings/],
    [{ create: [{ providerSpecific: [1] }] }, /providerSpecific/],
    [{ updateOld: [{}], updateNew: [] }, /updateOld has 1 endpoints but updateNew has 0/],
  ];
  for (const [body, message] of cases) {
    const e = assertThrows(() => parseChanges(body));
    assertEquals(e instanceof BadBody, true, `${JSON.stringify(body)}: ${e}`);
    assertEquals(message.test(e.message), true, `${JSON.stringify(body)}: ${e.message}`);
  }
  assertThrows(() => parseEndpoints({}));
  assertThrows(() => parseEndpoints(["x"]));
});

Deno.test("domain filter JSON is endpoint.DomainFilter's: include/exclude, sorted, empty left out", () => {
  assertEquals(domainFilterJson([], []), {});
  assertEquals(domainFilterJson(["lab.home.arpa", "home.arpa"], ["x.home.arpa"]), {
    include: ["home.arpa", "lab.home.arpa"],
    exclude: ["x.home.arpa"],
  });
});

Deno.test("entries become endpoints: one per name and family, targets sorted, aliases as names", () => {
  assertEquals(
    entriesToEndpoints([
      entry({ ipAddress: "10.0.0.2" }),
      entry({ ipAddress: "10.0.0.1", aliases: ["b.home.arpa"] }),
      entry({ ipAddress: "fd00::1", hostname: "A.home.arpa" }),
      entry({ ipAddress: "not-an-ip", hostname: "c.home.arpa" }),
    ]),
    [
      { dnsName: "a.home.arpa", targets: ["10.0.0.1", "10.0.0.2"], recordType: "A" },
      { dnsName: "a.home.arpa", targets: ["fd00::1"], recordType: "AAAA" },
      { dnsName: "b.home.arpa", targets: ["10.0.0.1"], recordType: "A" },
    ],
  );
});

Deno.test("only A and AAAA are kept; record types follow the address family", () => {
  const { kept, dropped } = splitSupported([
    { dnsName: "a", recordType: "A" },
    { dnsName: "b", recordType: "TXT" },
    { dnsName: "c", recordType: "AAAA" },
    { dnsName: "d", recordType: "CNAME" },
    { dnsName: "e" },
  ]);
  assertEquals(kept.map((e) => e.dnsName), ["a", "c"]);
  assertEquals(dropped.map((e) => e.dnsName), ["b", "d", "e"]);
  assertEquals([recordTypeOf("1.2.3.4"), recordTypeOf("::1"), recordTypeOf("x")], [
    "A",
    "AAAA",
    undefined,
  ]);
});

Deno.test("an entry is the webhook's only with both its comment and its tag", () => {
  assertEquals(isWebhookEntry(entry({})), true);
  assertEquals(isWebhookEntry(entry({ tags: [] })), false);
  assertEquals(isWebhookEntry(entry({ comment: "k8s:default/a" })), false);
  assertEquals(isWebhookEntry(entry({ comment: undefined })), false);
});

Deno.test("entriesToEndpoints lists addresses in their canonical spelling", () => {
  const entry = (hostname: string, ipAddress: string) => ({
    id: hostname,
    hostname,
    ipAddress,
    aliases: [],
    comment: `external-dns:${hostname}`,
    tags: ["external-dns"],
    version: "1",
  });
  assertEquals(entriesToEndpoints([entry("six.home.arpa", "FD00:0::1")]), [
    { dnsName: "six.home.arpa", targets: ["fd00::1"], recordType: "AAAA" },
  ]);
});

Deno.test("checkEndpoint drops the reserved names of a hosts file, saying why", () => {
  for (const dnsName of ["localhost", "LOCALHOST.", "ip6-allnodes", "app.localhost"]) {
    const r = checkEndpoint({ dnsName, recordType: "A", targets: ["10.1.0.17"] }, () => true);
    assertEquals("reason" in r ? r.reason : "kept", "invalid_name", dnsName);
    assertMatch("detail" in r ? r.detail : "", /reserved name|under localhost/, dnsName);
  }
});
