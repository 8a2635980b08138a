import type { HostEntry } from "../../grpc/hosts_port.ts";
import { assertEquals, assertOk } from "../../tests/assert.ts";
import { fakeContext } from "../../tests/fakes/source_context.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import { claimsOf, ownsEntry } from "./source.ts";
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
