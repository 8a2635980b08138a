import { assertEquals, assertMatch } from "../../tests/assert.ts";
import type { HostEntry } from "../../grpc/hosts_port.ts";
import {
  capHosts,
  ConflictBoard,
  DEFAULT_POLICY,
  deletesOnDelete,
  domainAllowed,
  domainRefusal,
  entryTags,
  filterDesired,
  isOperatorEntry,
  ownerAllows,
  ownerMatchesStrictly,
  type Policy,
  retainsOnDelete,
  splitByDomain,
  underDomain,
  withOwner,
} from "./policy.ts";

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

Deno.test("underDomain matches on label boundaries, any case", () => {
  const cases: [string, string, boolean][] = [
    ["app.home.arpa", "home.arpa", true],
    ["home.arpa", "home.arpa", true],
    ["APP.Home.Arpa", "home.ARPA", true],
    ["app.home.arpa.", "home.arpa", true],
    ["apphome.arpa", "home.arpa", false],
    ["app.home.arpa.evil", "home.arpa", false],
    ["app.example.com", ".example.com", true],
    ["example.com", "app.example.com", false],
  ];
  for (const [h, s, want] of cases) assertEquals(underDomain(h, s), want, `${h} under ${s}`);
});

Deno.test("domainAllowed: no filter manages all; exclusions win over the filter", () => {
  const cases: [Partial<Policy>, string, boolean][] = [
    [{}, "anything.example", true],
    [{ domainFilter: ["home.arpa"] }, "app.home.arpa", true],
    [{ domainFilter: ["home.arpa"] }, "app.example.com", false],
    [{ domainFilter: ["home.arpa", "lan"] }, "nas.lan", true],
    [
      { domainFilter: ["home.arpa"], excludeDomains: ["iot.home.arpa"] },
      "cam.iot.home.arpa",
      false,
    ],
    [{ excludeDomains: ["example.com"] }, "app.example.com", false],
    [{ excludeDomains: ["example.com"] }, "app.home.arpa", true],
  ];
  for (const [p, h, want] of cases) assertEquals(domainAllowed(policy(p), h), want, h);
  assertEquals(
    domainRefusal(policy({ domainFilter: ["home.arpa"] }), "app.example.com"),
    "outside --domain-filter home.arpa",
  );
  assertEquals(
    domainRefusal(policy({ excludeDomains: ["example.com"] }), "a.example.com"),
    "under --exclude-domains example.com",
  );
  assertEquals(domainRefusal(policy({}), "a.example.com"), undefined);
  assertEquals(
    splitByDomain(policy({ domainFilter: ["home.arpa"] }), ["a.home.arpa", "b.example.com"]),
    {
      managed: ["a.home.arpa"],
      skipped: [{ hostname: "b.example.com", why: "outside --domain-filter home.arpa" }],
    },
  );
});

Deno.test("entryTags adds owner:<id> only with an owner id, and never a second owner tag", () => {
  assertEquals(entryTags(policy({}), ["kubernetes", "traefik"]), ["kubernetes", "traefik"]);
  assertEquals(entryTags(policy({ ownerId: "a" }), ["kubernetes"]), ["kubernetes", "owner:a"]);
  assertEquals(entryTags(policy({ ownerId: "a" }), ["x", "owner:b"]), ["x", "owner:a"]);
});

Deno.test("ownership: ours, untagged (adopt and tag) allowed; another owner never", () => {
  const tags = (...t: string[]) => ({ tags: t });
  const a = policy({ ownerId: "a" });
  const none = policy({});
  const cases: [Policy, string[], boolean, boolean][] = [
    // policy, tags, ownerAllows, ownerMatchesStrictly (the sweep)
    [a, ["owner:a"], true, true],
    [a, [], true, false],
    [a, ["owner:b"], false, false],
    [a, ["owner:a", "owner:b"], false, false],
    [none, [], true, true],
    [none, ["owner:b"], false, false],
  ];
  for (const [p, t, allows, strict] of cases) {
    assertEquals(ownerAllows(p, tags(...t)), allows, `allows ${p.ownerId} ${t}`);
    assertEquals(ownerMatchesStrictly(p, tags(...t)), strict, `strict ${p.ownerId} ${t}`);
  }
  const entry = (t: string[]): HostEntry => ({
    id: "1",
    ipAddress: "10.0.0.1",
    hostname: "h",
    comment: "k8s:ns/x",
    aliases: [],
    tags: t,
    version: "1",
  } as HostEntry);
  const owns = withOwner(a, (e) => e.comment === "k8s:ns/x");
  assertEquals(owns(entry(["owner:a"])), true);
  assertEquals(owns(entry(["owner:b"])), false);
});

Deno.test("isOperatorEntry: our comment formats or an owner tag; a person's entry is not", () => {
  const e = (comment: string, ...tags: string[]) => ({ comment, tags });
  assertEquals(isOperatorEntry(e("k8s:ns/app")), true);
  assertEquals(isOperatorEntry(e("k8s-ingress:ns/app")), true);
  assertEquals(isOperatorEntry(e("k8s-gateway:ns/app")), true);
  assertEquals(isOperatorEntry(e("k8s-ingress-v1:ns/app")), true);
  assertEquals(isOperatorEntry(e("k8s-service:ns/app")), true);
  assertEquals(isOperatorEntry(e("printer", "owner:b")), true);
  assertEquals(isOperatorEntry(e("added by hand")), false);
  assertEquals(isOperatorEntry(e("external-dns:app.home.arpa")), false);
});

Deno.test("on-delete: retain and the policy decide whether deletion deletes", () => {
  assertEquals(retainsOnDelete({ "router-hosts.fzymgc.house/on-delete": "retain" }), true);
  assertEquals(retainsOnDelete({ "router-hosts.fzymgc.house/on-delete": " Retain " }), true);
  assertEquals(retainsOnDelete({ "router-hosts.fzymgc.house/on-delete": "delete" }), false);
  assertEquals(retainsOnDelete(undefined), false);
  assertEquals(deletesOnDelete(policy({}), false), true);
  assertEquals(deletesOnDelete(policy({}), true), false);
  assertEquals(deletesOnDelete(policy({ mode: "upsert-only" }), false), false);
});

Deno.test("ConflictBoard wakes every waiter of a released hostname once", () => {
  const board = new ConflictBoard();
  const woken: string[] = [];
  board.wait("App.home.arpa", "ingressroute/ns/b", () => woken.push("b"));
  board.wait("app.home.arpa", "hostmapping/ns/c", () => woken.push("c"));
  board.wait("other.home.arpa", "ingressroute/ns/d", () => woken.push("d"));
  board.release("APP.HOME.ARPA");
  board.release("app.home.arpa");
  assertEquals(woken, ["b", "c"]);
  board.forget("ingressroute/ns/d");
  board.release("other.home.arpa");
  assertEquals(woken, ["b", "c"]);
  assertEquals(board.size, 0);
});

Deno.test("filterDesired drops names outside the filter with one problem naming them all", () => {
  const desired = { hosts: ["a.home.arpa", "b.example.com", "c.example.com"], problems: [] };
  assertEquals(filterDesired(policy({}), desired), desired);
  const out = filterDesired(policy({ domainFilter: ["home.arpa"] }), {
    ...desired,
    incomplete: true,
  });
  assertEquals(out.hosts, ["a.home.arpa"]);
  assertEquals(out.incomplete, true);
  assertEquals(out.problems.map((p) => p.reason), ["DomainFiltered"]);
  assertEquals(
    out.problems[0].message,
    "2 hostname(s) are outside this operator's domains and are neither written to nor deleted " +
      "from router-hosts: b.example.com (outside --domain-filter home.arpa), " +
      "c.example.com (outside --domain-filter home.arpa)",
  );
});

Deno.test("capHosts keeps the first --max-hosts-per-object names, with one problem saying so", () => {
  const hosts = Array.from({ length: 5000 }, (_, i) => `h${i}.home.arpa`);
  const desired = { hosts, problems: [] };
  assertEquals(capHosts(policy({}), { hosts: hosts.slice(0, 400), problems: [] }).problems, []);
  const out = capHosts(policy({}), desired);
  assertEquals(out.hosts, hosts.slice(0, 400));
  assertEquals(out.problems.map((p) => p.reason), ["TooManyHosts"]);
  assertMatch(
    out.problems[0].message,
    /^5000 hostnames, more than --max-hosts-per-object=400: the first 400 are kept, the other 4600 get no entry: h400\.home\.arpa, .* and 4595 more$/,
  );
  assertEquals(capHosts(policy({ maxHostsPerObject: 2 }), desired).hosts, [
    "h0.home.arpa",
    "h1.home.arpa",
  ]);
});

Deno.test("the default cap fits the host-ids annotation of the longest names in half the 256 KiB", () => {
  const longest = Array.from(
    { length: DEFAULT_POLICY.maxHostsPerObject },
    (_, i) =>
      `${String(i).padStart(63, "a")}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
  );
  const annotation: Record<string, string> = {};
  for (const h of longest) annotation[h] = "01KBKZ4Q5X2N8B6F2Y0M4T7V9C";
  const bytes = new TextEncoder().encode(JSON.stringify(annotation)).length;
  assertEquals(longest[0].length, 253);
  assertEquals(bytes <= 128 * 1024, true, `${bytes} bytes`);
});
