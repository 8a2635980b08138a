import { status } from "@grpc/grpc-js";
import { assertEquals, assertOk } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { AdoptionRefusedError } from "../hosts/sync.ts";
import { classifyError, errorStatus, statusEquivalent, syncedStatus } from "./status.ts";

Deno.test("an in-sync resync produces an identical status, so nothing is written", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const entry = {
    id: "01H",
    ipAddress: "10.0.0.5",
    hostname: "nas.lan",
    aliases: [],
    tags: [],
    version: "4",
  };
  const first = syncedStatus({}, entry, 3, t0, "created");
  assertEquals(first.phase, "Synced");
  assertEquals(first.lastSyncTime, "2026-01-01T00:00:00Z");
  const later = syncedStatus(first, entry, 3, new Date("2026-01-01T01:00:00Z"), "unchanged");
  assertOk(statusEquivalent(first, later));
  const moved = syncedStatus(
    first,
    { ...entry, version: "5" },
    4,
    new Date("2026-01-01T01:00:00Z"),
    "updated",
  );
  assertEquals(moved.lastSyncTime, "2026-01-01T01:00:00Z");
  assertEquals(moved.conditions?.[0].observedGeneration, 4);
  assertEquals(moved.conditions?.[0].lastTransitionTime, first.conditions?.[0].lastTransitionTime);
});

Deno.test("errors become phase Error with the server's message and a Synced=False reason", () => {
  const t = new Date("2026-01-01T00:00:00Z");
  const invalid = new RouterHostsError({
    code: status.INVALID_ARGUMENT,
    method: "AddHost",
    address: "r:1",
    serverMessage: "invalid label 'bad_name' in hostname",
  });
  const c = classifyError(invalid);
  assertEquals(c.reason, "InvalidSpec");
  const s = errorStatus({}, c.reason, c.message, 1, t);
  assertEquals(s.phase, "Error");
  assertOk(s.message?.includes("invalid label 'bad_name' in hostname"));
  assertEquals(s.conditions?.[0].status, "False");
  assertEquals(s.conditions?.[0].reason, "InvalidSpec");
  assertEquals(
    classifyError(
      new RouterHostsError({
        code: status.UNAVAILABLE,
        method: "GetHost",
        address: "r:1",
        serverMessage: "down",
      }),
    ).reason,
    "ServerUnavailable",
  );
  assertEquals(
    classifyError(
      new AdoptionRefusedError({
        id: "1",
        ipAddress: "1.1.1.1",
        hostname: "a",
        aliases: [],
        tags: [],
        version: "1",
      }),
    ).reason,
    "AdoptionRefused",
  );
  const kept = errorStatus({ hostId: "01H", hostVersion: "2" }, "ServerUnavailable", "down", 1, t);
  assertEquals([kept.hostId, kept.hostVersion], ["01H", "2"]);
});
