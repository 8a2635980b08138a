import type { HostEntry } from "../../grpc/hosts_port.ts";
import { assertEquals, assertMatch, assertOk } from "../../tests/assert.ts";
import { fakeContext } from "../../tests/fakes/source_context.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import { capHosts, claimsOf, filterDesired, ownsEntry } from "./source.ts";
import { DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";
import { INGRESSROUTE, INGRESSROUTETCP, projectIngressRoute } from "../sources/ingressroute.ts";

Deno.test("ownership: comment AND tags traefik+ingress", () => {
  const owns = ownsEntry(INGRESSROUTE.comment("apps", "web"), INGRESSROUTE.adoptTags);
  const e = (comment: string | undefined, tags: string[]): HostEntry => ({
    id: "1",
    ipAddress: "10.2.0.1",
    hostname: "a.lan",
    comment,
    tags,
    aliases: [],
    version: "1",
  });
  assertOk(owns(e("k8s-ingress:apps/web", ["kubernetes", "traefik", "ingress"])));
  assertOk(owns(e("k8s-ingress:apps/web", ["traefik", "ingress"])));
  assertEquals(owns(e("k8s-ingress:apps/web", ["traefik"])), false);
  assertEquals(owns(e("k8s:apps/web", ["kubernetes", "traefik", "ingress"])), false);
  assertEquals(owns(e("k8s-ingress:apps/web2", ["traefik", "ingress"])), false);
  assertEquals(owns(e(undefined, ["traefik", "ingress"])), false);
});

Deno.test("claims: the sibling's tracked ids and wanted hostnames; none while it is being deleted", () => {
  const v = projectIngressRoute(route([`HostSNI(${B}DB.lan${B})`], {
    annotations: { [HOST_IDS_ANNOTATION]: '{"old.lan":"O"}' },
  }));
  const c = claimsOf(INGRESSROUTETCP, v, fakeContext());
  assertEquals([...c.ids], ["O"]);
  assertEquals([...c.hostnames], ["db.lan"]);
  assertEquals(
    claimsOf(INGRESSROUTETCP, { ...v, deletionTimestamp: "2026-01-01T00:00:00Z" }, fakeContext())
      .ids.size,
    0,
  );
  assertEquals(claimsOf(INGRESSROUTETCP, undefined, fakeContext()).ids.size, 0);
});

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

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
