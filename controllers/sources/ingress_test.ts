import { assertEquals } from "../../tests/assert.ts";
import {
  classSelected,
  ingressHostnames,
  ingressIpCandidate,
  ingressV1Comment,
  projectIngress,
} from "./ingress.ts";

function ingress(o: {
  className?: string;
  legacyClass?: string;
  hosts?: (string | undefined)[];
  override?: string;
  lb?: unknown[];
}) {
  const annotations: Record<string, string> = {};
  if (o.legacyClass) annotations["kubernetes.io/ingress.class"] = o.legacyClass;
  if (o.override !== undefined) annotations["router-hosts.fzymgc.house/ip-address"] = o.override;
  return projectIngress({
    metadata: { name: "web", namespace: "apps", annotations },
    spec: {
      ...(o.className ? { ingressClassName: o.className } : {}),
      rules: (o.hosts ?? []).map((host) => (host === undefined ? { http: {} } : { host })),
    },
    status: { loadBalancer: { ingress: o.lb ?? [] } },
  });
}

Deno.test("ingressV1Comment is k8s-ingress-v1:<namespace>/<name>", () => {
  assertEquals(ingressV1Comment("apps", "web"), "k8s-ingress-v1:apps/web");
});

Deno.test("class: spec.ingressClassName first, then the legacy annotation", () => {
  assertEquals(ingress({ className: "traefik", legacyClass: "nginx" }).className, "traefik");
  assertEquals(ingress({ legacyClass: "nginx" }).className, "nginx");
  assertEquals(ingress({}).className, undefined);
});

Deno.test("classSelected: no --ingress-class selects all; else the class must be listed", () => {
  const cases: [Parameters<typeof ingress>[0], string[], boolean][] = [
    [{}, [], true],
    [{ className: "nginx" }, [], true],
    [{ className: "traefik" }, ["traefik"], true],
    [{ legacyClass: "traefik" }, ["nginx", "traefik"], true],
    [{ className: "nginx" }, ["traefik"], false],
    [{}, ["traefik"], false],
  ];
  for (const [o, classes, want] of cases) {
    assertEquals(classSelected(ingress(o), classes), want, JSON.stringify([o, classes]));
  }
});

Deno.test("ingressHostnames: rules' hosts; wildcards and host-less rules skipped silently; invalid reported", () => {
  assertEquals(
    ingressHostnames(
      ingress({ hosts: ["a.lan", undefined, "*.lan", "B.lan", "a.LAN", "bad_name.lan"] }),
    ),
    {
      hosts: ["a.lan", "B.lan"],
      skipped: [{
        rule: 5,
        value: "bad_name.lan",
        reason: "not a valid hostname: invalid label 'bad_name' in hostname",
      }],
    },
  );
});

Deno.test("ingressIpCandidate: status, then the override annotation, else none (the cluster's)", () => {
  const cases: [Parameters<typeof ingress>[0], unknown][] = [
    [{ lb: [{ ip: "10.0.0.1" }], override: "10.0.0.2" }, {
      ip: "10.0.0.1",
      from: "status.loadBalancer.ingress",
    }],
    [{ lb: [{ hostname: "lb.elb" }], override: "10.0.0.2" }, {
      hostname: "lb.elb",
      from: "status.loadBalancer.ingress",
    }],
    [{ override: "10.0.0.2" }, {
      ip: "10.0.0.2",
      from: "annotation router-hosts.fzymgc.house/ip-address",
    }],
    [{ override: "" }, undefined],
    [{}, undefined],
  ];
  for (const [o, want] of cases) assertEquals(ingressIpCandidate(ingress(o)), want);
});
