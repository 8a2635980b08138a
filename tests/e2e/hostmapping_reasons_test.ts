/**
 * The Synced condition's reason of a HostMapping, observed from outside as
 * a script or an alert would read it: the Go operator's reasons where the
 * meaning is the same (Created, Updated, AlreadyInSync, AdoptionRefused,
 * DeleteFailed), ours where Go cannot tell (ServerUnavailable).
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { trackSteps, uniqueName } from "../testbed/mod.ts";
import { bedTest, FINALIZER, type HostMappingObject, withOperator } from "../testbed/bed.ts";

function synced(o: HostMappingObject) {
  return o.status?.conditions?.find((c) => c.type === "Synced");
}

bedTest({ name: "HostMapping Synced reasons" }, async ({ bed, t }) => {
  const { step, dumpLogsIfFailed } = trackSteps(t);

  await withOperator(bed, {}, async () => {
    const { hm, hosts, rh, kube } = bed;
    const ns = await kube.createNamespace(uniqueName("reasons"));
    /** Waits for Synced=`status` with `reason` at the object's current generation. */
    const reason = (name: string, status: string, want: string, timeoutMs = 30_000) =>
      hm.waitFor(ns, name, `Synced=${status} reason ${want}`, (o) => {
        const c = synced(o);
        return c?.status === status && c.reason === want &&
          c.observedGeneration === o.metadata.generation;
      }, timeoutMs);

    await step("create → Created", async () => {
      await hm.create(ns, "nas", { hostname: "nas.lan", ip: "10.4.0.1", tags: ["a", "b"] });
      const o = await reason("nas", "True", "Created");
      assertEquals(o.status!.phase, "Synced");
      assertOk(o.metadata.finalizers?.includes(FINALIZER));
      assertMatch(synced(o)!.message, /created on router-hosts: nas\.lan -> 10\.4\.0\.1/);
    });

    await step("spec change → Updated (the same entry, changed in place)", async () => {
      const before = await hm.get(ns, "nas");
      await hm.patch(ns, "nas", { spec: { ip: "10.4.0.2" } });
      const o = await reason("nas", "True", "Updated");
      assertEquals(o.status!.hostId, before.status!.hostId);
      assertEquals((await hosts.getHost(o.status!.hostId!)).ipAddress, "10.4.0.2");
    });

    await step("a spec change the entry already matches → AlreadyInSync, no write", async () => {
      const before = await hm.get(ns, "nas");
      await hm.patch(ns, "nas", { spec: { tags: ["b", "a"] } });
      const o = await reason("nas", "True", "AlreadyInSync");
      assertEquals(o.status!.hostVersion, before.status!.hostVersion, "no write to the server");
    });

    await step("server down → ServerUnavailable; back → AlreadyInSync", async () => {
      await rh.kill();
      try {
        // An annotation wakes the controller without changing what the entry should be.
        await hm.patch(ns, "nas", { metadata: { annotations: { check: "now" } } });
        const o = await reason("nas", "False", "ServerUnavailable");
        assertEquals(o.status!.phase, "Error");
        assertMatch(o.status!.message!, /UNAVAILABLE/);
      } finally {
        await rh.start();
      }
      const o = await reason("nas", "True", "AlreadyInSync", 60_000);
      assertEquals(o.status!.phase, "Synced");
    });

    await step("someone else's entry with our IP and hostname → AdoptionRefused", async () => {
      const theirs = await hosts.addHost({
        ipAddress: "10.4.0.9",
        hostname: "printer.lan",
        comment: "added by hand",
      });
      await hm.create(ns, "printer", { hostname: "printer.lan", ip: "10.4.0.9" });
      const o = await reason("printer", "False", "AdoptionRefused");
      assertEquals(o.status!.phase, "Error");
      assertEquals(o.status!.hostId, undefined);
      assertEquals(await hosts.getHost(theirs.id), theirs, "their entry is untouched");
      await hosts.deleteHost(theirs.id);
    });

    await step(
      "delete while the server is down → DeleteFailed, finalizer kept; back → gone",
      async () => {
        await rh.kill();
        try {
          await hm.delete(ns, "nas");
          const o = await hm.waitFor(
            ns,
            "nas",
            "Synced=False reason DeleteFailed",
            (x) => synced(x)?.reason === "DeleteFailed",
          );
          assertEquals(o.status!.phase, "Error");
          assertOk(o.metadata.finalizers?.includes(FINALIZER));
        } finally {
          await rh.start();
        }
        await hm.waitGone(ns, "nas", 60_000);
      },
    );
    dumpLogsIfFailed();
  });
});
