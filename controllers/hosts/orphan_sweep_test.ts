import { assertEquals } from "../../tests/assert.ts";
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { Logger } from "../../observability/log.ts";
import {
  commentPrefix,
  findOrphans,
  objectKeyOf,
  OrphanSweep,
  type SweepKind,
} from "./orphan_sweep.ts";
import { ConflictBoard, DEFAULT_POLICY, type Policy } from "./policy.ts";

const cache = (keys: string[], ready = true) => ({
  ready: () => ready,
  has: (k: string) => keys.includes(k),
});

const kinds = (o: { ir?: string[]; tcp?: string[]; hm?: string[]; tcpReady?: boolean } = {}) =>
  [
    {
      controller: "ingressroute",
      comment: (ns: string, n: string) => `k8s-ingress:${ns}/${n}`,
      adoptTags: ["traefik", "ingress"],
      cache: cache(o.ir ?? []),
    },
    {
      controller: "ingressroutetcp",
      comment: (ns: string, n: string) => `k8s-ingress:${ns}/${n}`,
      adoptTags: ["traefik", "ingress"],
      cache: cache(o.tcp ?? [], o.tcpReady ?? true),
    },
    {
      controller: "hostmapping",
      comment: (ns: string, n: string) => `k8s:${ns}/${n}`,
      adoptTags: [],
      cache: cache(o.hm ?? []),
    },
  ] satisfies SweepKind[];

let n = 0;
const entry = (comment: string, tags: string[], hostname = "h.home.arpa"): HostEntry => ({
  id: `id${++n}`,
  ipAddress: "10.0.0.1",
  hostname,
  comment,
  tags,
  aliases: [],
  version: "1",
});
const IR = ["kubernetes", "traefik", "ingress"];
const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

Deno.test("commentPrefix and objectKeyOf read our comment formats", () => {
  const [ir, , hm] = kinds();
  assertEquals(commentPrefix(ir), "k8s-ingress:");
  assertEquals(commentPrefix(hm), "k8s:");
  assertEquals(objectKeyOf(ir, "k8s-ingress:ns/web"), "ns/web");
  assertEquals(objectKeyOf(hm, "k8s-ingress:ns/web"), undefined);
  assertEquals(objectKeyOf(hm, "k8s:ns/"), undefined);
  assertEquals(objectKeyOf(hm, "k8s:/x"), undefined);
});

Deno.test("findOrphans: only our entries whose object no kind of the comment has", () => {
  const cases: [string, HostEntry, ReturnType<typeof kinds>, Policy, string | undefined][] = [
    ["object gone", entry("k8s-ingress:ns/web", IR), kinds(), policy({}), "ingressroute"],
    [
      "object lives",
      entry("k8s-ingress:ns/web", IR),
      kinds({ ir: ["ns/web"] }),
      policy({}),
      undefined,
    ],
    [
      "the same-name IngressRouteTCP lives",
      entry("k8s-ingress:ns/web", IR),
      kinds({ tcp: ["ns/web"] }),
      policy({}),
      undefined,
    ],
    [
      "a kind of the comment not installed",
      entry("k8s-ingress:ns/web", IR),
      kinds({ tcpReady: false }),
      policy({}),
      undefined,
    ],
    ["HostMapping gone", entry("k8s:ns/nas", ["storage"]), kinds(), policy({}), "hostmapping"],
    ["foreign comment", entry("added by hand", IR), kinds(), policy({}), undefined],
    [
      "disabled kind",
      entry("k8s-gateway:ns/r", ["gateway", "httproute"]),
      kinds(),
      policy({}),
      undefined,
    ],
    [
      "missing adoption tags",
      entry("k8s-ingress:ns/web", ["kubernetes"]),
      kinds(),
      policy({}),
      undefined,
    ],
    ["retained", entry("k8s-ingress:ns/web", [...IR, "retained"]), kinds(), policy({}), undefined],
    [
      "our owner",
      entry("k8s-ingress:ns/web", [...IR, "owner:a"]),
      kinds(),
      policy({ ownerId: "a" }),
      "ingressroute",
    ],
    [
      "another owner",
      entry("k8s-ingress:ns/web", [...IR, "owner:b"]),
      kinds(),
      policy({ ownerId: "a" }),
      undefined,
    ],
    [
      "untagged with an owner id",
      entry("k8s-ingress:ns/web", IR),
      kinds(),
      policy({ ownerId: "a" }),
      undefined,
    ],
    [
      "tagged without an owner id",
      entry("k8s-ingress:ns/web", [...IR, "owner:a"]),
      kinds(),
      policy({}),
      undefined,
    ],
    [
      "outside the domain filter",
      entry("k8s-ingress:ns/web", IR, "a.example.com"),
      kinds(),
      policy({ domainFilter: ["home.arpa"] }),
      undefined,
    ],
  ];
  for (const [what, e, k, p, want] of cases) {
    assertEquals(findOrphans([e], k, p)[0]?.controller, want, what);
  }
});

Deno.test("OrphanSweep deletes the orphans it finds and counts them; then waits an interval", async () => {
  const hosts = new FakeHosts();
  const orphan = hosts.add({
    ipAddress: "10.0.0.1",
    hostname: "o.lan",
    comment: "k8s-ingress:ns/gone",
    tags: IR,
  });
  const live = hosts.add({
    ipAddress: "10.0.0.1",
    hostname: "l.lan",
    comment: "k8s-ingress:ns/web",
    tags: IR,
  });
  const hand = hosts.add({
    ipAddress: "10.0.0.1",
    hostname: "k8s-ingress.lan",
    comment: "mine",
    tags: [],
  });
  const counted: string[] = [];
  const board = new ConflictBoard();
  const woken: string[] = [];
  board.wait("o.lan", "ingressroute/ns/loser", () => woken.push("ns/loser"));
  const sweep = new OrphanSweep({
    hosts,
    kinds: kinds({ ir: ["ns/web"] }),
    policy: DEFAULT_POLICY,
    intervalMs: 60_000,
    log: new Logger({ sink: () => {} }),
    deleted: (c) => counted.push(c),
    conflicts: board,
  });
  assertEquals(await sweep.sweep(), { requeueAfterMs: 60_000 });
  assertEquals([...hosts.entries.keys()].sort(), [live.id, hand.id].sort());
  assertEquals(hosts.entries.has(orphan.id), false);
  assertEquals(counted, ["ingressroute"]);
  assertEquals(woken, ["ns/loser"], "a conflict's loser waiting for the name is woken");
});

Deno.test("OrphanSweep in a dry run neither counts nor reports the deletes it only logged", async () => {
  const hosts = new FakeHosts();
  hosts.add({ ipAddress: "10.0.0.1", hostname: "o.lan", comment: "k8s-ingress:ns/gone", tags: IR });
  const counted: string[] = [];
  const lines: string[] = [];
  await new OrphanSweep({
    hosts,
    kinds: kinds(),
    policy: DEFAULT_POLICY,
    intervalMs: 1_000,
    log: new Logger({ sink: (l) => lines.push(JSON.parse(l).msg) }),
    deleted: (c) => counted.push(c),
    dryRun: true,
  }).sweep();
  assertEquals(counted, []);
  assertEquals(lines.includes("orphan entry deleted: its object no longer exists"), false);
});

Deno.test("scope: entries of objects outside the watched namespaces are never orphans", () => {
  const scoped = kinds().map((k) => ({ ...k, scope: { namespaces: ["apps"] } }));
  const inside = entry("k8s:apps/gone", []);
  const outside = entry("k8s:other/x", []);
  const found = findOrphans([inside, outside], scoped, DEFAULT_POLICY);
  assertEquals(found.map((o) => o.entry.id), [inside.id]);
});

Deno.test("scope: under a label selector only entries with our owner tag can be orphans", () => {
  const scoped = kinds().map((k) =>
    k.controller === "hostmapping" ? k : { ...k, scope: { labelSelector: "router=lan" } }
  );
  const untagged = entry("k8s-ingress:apps/web", IR);
  const ours = entry("k8s-ingress:apps/old", [...IR, "owner:a"]);
  const theirs = entry("k8s-ingress:apps/theirs", [...IR, "owner:b"]);
  const hm = entry("k8s:apps/gone", []);
  assertEquals(
    findOrphans([untagged, hm], scoped, DEFAULT_POLICY).map((o) => o.entry.id),
    [hm.id],
    "without an owner id the selected kinds' entries are left alone; HostMapping's are swept",
  );
  assertEquals(
    findOrphans([untagged, ours, theirs], scoped, policy({ ownerId: "a" })).map((o) => o.entry.id),
    [ours.id],
  );
});
