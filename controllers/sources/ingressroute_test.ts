import { assertEquals, assertMatch, assertOk } from "../../tests/assert.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { HOST_IDS_ANNOTATION } from "../engine/host_ids.ts";
import { needsReconcile } from "../engine/source.ts";
import { desiredHostnames, INGRESSROUTE, projectIngressRoute } from "./ingressroute.ts";

const INGRESSROUTE_FINALIZER = INGRESSROUTE.finalizer;

// ---------------------------------------------------------------- projection

Deno.test("projection keeps the rules and the raw annotation, not the rest of the spec", () => {
  const v = projectIngressRoute(route([`Host(${B}a.lan${B})`, 42], {
    annotations: { [HOST_IDS_ANNOTATION]: '{"a.lan":"X"}', other: "1" },
  }));
  assertEquals(v.matches, [`Host(${B}a.lan${B})`, null]);
  assertEquals(v.hostIds, '{"a.lan":"X"}');
  assertEquals(JSON.stringify(v).includes("websecure"), false);
});

Deno.test("our own annotation write does not wake the controller; rules and other annotations do", () => {
  const a = projectIngressRoute(route([`Host(${B}a.lan${B})`]));
  const ours = projectIngressRoute(route([`Host(${B}a.lan${B})`], {
    resourceVersion: "2",
    annotations: { [HOST_IDS_ANNOTATION]: '{"a.lan":"X"}' },
  }));
  assertEquals(needsReconcile(INGRESSROUTE_FINALIZER, a, ours), false);
  assertOk(needsReconcile(INGRESSROUTE_FINALIZER, undefined, a));
  const withOurs = projectIngressRoute(route([`Host(${B}a.lan${B})`], {
    finalizers: [INGRESSROUTE_FINALIZER],
  }));
  assertEquals(
    needsReconcile(INGRESSROUTE_FINALIZER, a, withOurs),
    false,
    "our finalizer appearing",
  );
  assertOk(needsReconcile(INGRESSROUTE_FINALIZER, withOurs, a), "our finalizer removed by someone");
  assertOk(
    needsReconcile(
      INGRESSROUTE_FINALIZER,
      a,
      projectIngressRoute(route([`Host(${B}a.lan${B})`], { finalizers: ["x/y"] })),
    ),
  );
  assertOk(
    needsReconcile(INGRESSROUTE_FINALIZER, a, projectIngressRoute(route([`Host(${B}b.lan${B})`]))),
  );
  assertOk(
    needsReconcile(
      INGRESSROUTE_FINALIZER,
      a,
      projectIngressRoute(route([`Host(${B}a.lan${B})`], { annotations: { x: "1" } })),
    ),
  );
  assertOk(
    needsReconcile(
      INGRESSROUTE_FINALIZER,
      a,
      projectIngressRoute(
        route([`Host(${B}a.lan${B})`], { deletionTimestamp: "2026-01-01T00:00:00Z" }),
      ),
    ),
  );
});

// ---------------------------------------------------------- desired hostnames

Deno.test("desired hostnames: every route, de-duplicated across routes, skipped and errors by route", () => {
  const v = projectIngressRoute(route([
    `Host(${B}a.lan${B}) && PathPrefix(${B}/api${B})`,
    `Host(${B}A.LAN${B}, ${B}b.lan${B}) || HostRegexp(${B}.+${B})`,
    `Host(${B}*.lan${B})`,
    `Host(${B}c.lan${B}`,
    null,
  ]));
  const d = desiredHostnames(v, "http");
  assertEquals(d.hosts, ["a.lan", "b.lan"]);
  const of = (reason: string) => d.problems.filter((p) => p.reason === reason);
  assertEquals(of("InvalidHostname").map((s) => [s.fields.route, s.fields.value]), [
    [1, ".+"],
    [2, "*.lan"],
  ]);
  assertEquals(of("InvalidRule").map((e) => e.fields.route), [3, 4]);
  assertMatch(String(of("InvalidRule")[0].fields.error), /not closed/);
  assertMatch(String(of("InvalidRule")[1].fields.error), /no match rule/);
  assertOk(d.incomplete, "a rule that does not parse keeps tracked entries");
});

Deno.test("desired hostnames of an IngressRouteTCP come from HostSNI only", () => {
  const v = projectIngressRoute(
    route([`HostSNI(${B}db.lan${B})`, `HostSNI(${B}*${B})`, `Host(${B}x.lan${B})`]),
  );
  const d = desiredHostnames(v, "tcp");
  assertEquals(d.hosts, ["db.lan"]);
  assertEquals(d.problems.map((s) => s.fields.value), ["*"]);
});
