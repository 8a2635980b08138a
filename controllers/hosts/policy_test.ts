import { assertEquals } from "../../tests/assert.ts";
import type { HostEntry } from "../../grpc/hosts_port.ts";
import {
  ConflictBoard,
  DEFAULT_POLICY,
  deletesOnDelete,
  domainAllowed,
  domainRefusal,
  entryTags,
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
