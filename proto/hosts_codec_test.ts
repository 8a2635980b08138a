/**
 * The hand-written codec against protobufjs's reading of the .proto (the
 * same definition the router-hosts emulator and ./mod_test.ts use): every
 * request we encode decodes there to the same fields with presence kept,
 * and every response protobufjs encodes (timestamps and unknown fields
 * included) decodes here to the same entry.
 */
import { assertEquals, assertThrows } from "../tests/assert.ts";
import {
  decodeBoolResponse,
  decodeEntryResponse,
  decodeWatchHostsResponse,
  encodeAddHostRequest,
  encodeDeleteHostRequest,
  encodeEmpty,
  encodeGetHostRequest,
  encodeSearchHostsRequest,
  encodeUpdateHostRequest,
  encodeWatchHostsRequest,
} from "./hosts_codec.ts";
import { hostsRoot } from "./mod.ts";

const root = hostsRoot();
const type = (name: string) => root.lookupType(`router_hosts.v1.${name}`);

/** What protobufjs reads from `bytes`: only the fields on the wire, presence visible. */
function theirs(name: string, bytes: Uint8Array): Record<string, unknown> {
  const t = type(name);
  return t.toObject(t.decode(bytes), { longs: String, defaults: false }) as Record<
    string,
    unknown
  >;
}

function encodeTheirs(name: string, value: Record<string, unknown>): Uint8Array {
  const t = type(name);
  return t.encode(t.fromObject(value)).finish();
}

const ENTRY = {
  id: "01JGZ8X9V6Q3W2E1R0T9Y8U7I6",
  ipAddress: "192.168.1.10",
  hostname: "nas.lan",
  tags: ["k8s", "storage"],
  aliases: ["files.lan", "backup.lan"],
  version: "3",
};
const TIMESTAMPS = {
  createdAt: { seconds: "1767225600", nanos: 123_000_000 },
  updatedAt: { seconds: "1767225601", nanos: 0 },
};

Deno.test("AddHostRequest: fields, lists and comment presence (absent, empty, set)", () => {
  const base = { ipAddress: "10.0.0.1", hostname: "a.lan", tags: ["t"], aliases: ["b.lan"] };
  assertEquals(theirs("AddHostRequest", encodeAddHostRequest(base)), base);
  assertEquals(
    theirs("AddHostRequest", encodeAddHostRequest({ ...base, comment: "" })),
    { ...base, comment: "" },
  );
  assertEquals(
    theirs(
      "AddHostRequest",
      encodeAddHostRequest({ ipAddress: "::1", hostname: "ü.lan", comment: "c" }),
    ),
    { ipAddress: "::1", hostname: "ü.lan", comment: "c" },
  );
});

Deno.test("UpdateHostRequest: optional scalars keep presence, empty wrappers are sent, absent ones are not", () => {
  const full = {
    id: "x",
    ipAddress: "",
    hostname: "h.lan",
    comment: "",
    expectedVersion: "7",
    aliases: [],
    tags: ["a", "b"],
  };
  assertEquals(theirs("UpdateHostRequest", encodeUpdateHostRequest(full)), {
    id: "x",
    ipAddress: "",
    hostname: "h.lan",
    comment: "",
    expectedVersion: "7",
    aliases: {},
    tags: { values: ["a", "b"] },
  });
  assertEquals(theirs("UpdateHostRequest", encodeUpdateHostRequest({ id: "x" })), { id: "x" });
});

Deno.test("Get, Delete, Search, List and Liveness requests", () => {
  assertEquals(theirs("GetHostRequest", encodeGetHostRequest({ id: "x" })), { id: "x" });
  assertEquals(theirs("DeleteHostRequest", encodeDeleteHostRequest({ id: "x" })), { id: "x" });
  assertEquals(
    theirs("DeleteHostRequest", encodeDeleteHostRequest({ id: "x", expectedVersion: "" })),
    { id: "x", expectedVersion: "" },
  );
  assertEquals(theirs("SearchHostsRequest", encodeSearchHostsRequest({ query: "nas" })), {
    query: "nas",
  });
  assertEquals(theirs("ListHostsRequest", encodeEmpty()), {});
  assertEquals(theirs("LivenessRequest", encodeEmpty()), {});
});

Deno.test("entry responses decode every field we use; timestamps are skipped; comment presence is kept", () => {
  for (
    const name of [
      "GetHostResponse",
      "UpdateHostResponse",
      "ListHostsResponse",
      "SearchHostsResponse",
    ]
  ) {
    const bytes = encodeTheirs(name, { entry: { ...ENTRY, ...TIMESTAMPS, comment: "" } });
    assertEquals(decodeEntryResponse(bytes, 1), { entry: { ...ENTRY, comment: "" } });
  }
  const add = encodeTheirs("AddHostResponse", { id: ENTRY.id, entry: { ...ENTRY, comment: "c" } });
  assertEquals(decodeEntryResponse(add, 2), { entry: { ...ENTRY, comment: "c" } });
  const bare = encodeTheirs("GetHostResponse", { entry: { id: "y" } });
  assertEquals(decodeEntryResponse(bare, 1), {
    entry: { id: "y", ipAddress: "", hostname: "", tags: [], aliases: [], version: "" },
  });
  assertEquals(decodeEntryResponse(encodeTheirs("GetHostResponse", {}), 1), { entry: undefined });
});

Deno.test("unknown fields of every wire type are skipped", () => {
  const entry = encodeTheirs("HostEntry", { ...ENTRY });
  // field 15 varint 300, field 16 fixed64, field 17 fixed32, field 18 bytes "zz", then the entry.
  const unknown = [0x78, 0xac, 0x02, 0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x8d, 0x01, 1, 2, 3, 4];
  const bytes = Uint8Array.from([
    ...unknown,
    0x92,
    0x01,
    2,
    0x7a,
    0x7a,
    0x0a,
    entry.length,
    ...entry,
  ]);
  assertEquals(decodeEntryResponse(bytes, 1), { entry: { ...ENTRY } });
});

Deno.test("bool responses: DeleteHost success and Liveness alive", () => {
  assertEquals(decodeBoolResponse(encodeTheirs("DeleteHostResponse", { success: true })), true);
  assertEquals(decodeBoolResponse(encodeTheirs("LivenessResponse", { alive: true })), true);
  assertEquals(decodeBoolResponse(encodeTheirs("LivenessResponse", { alive: false })), false);
});

Deno.test("truncated messages are errors, not silently short entries", () => {
  const bytes = encodeTheirs("GetHostResponse", { entry: { ...ENTRY } });
  assertThrows(() => decodeEntryResponse(bytes.slice(0, -3), 1));
});

Deno.test("WatchHostsRequest: follow is sent when true, absent when false", () => {
  assertEquals(theirs("WatchHostsRequest", encodeWatchHostsRequest({ follow: true })), {
    follow: true,
  });
  assertEquals(theirs("WatchHostsRequest", encodeWatchHostsRequest({ follow: false })), {});
});

Deno.test("WatchHostsResponse: an entry keeps id, hostname and version only; the terminator its count and change id", () => {
  const entry = encodeTheirs("WatchHostsResponse", {
    entry: { ...ENTRY, comment: "k8s:ns/a", ...TIMESTAMPS },
  });
  assertEquals(decodeWatchHostsResponse(entry), {
    entry: { id: ENTRY.id, hostname: ENTRY.hostname, version: ENTRY.version },
  });
  const complete = encodeTheirs("WatchHostsResponse", {
    complete: {
      count: 12345,
      generatedAt: TIMESTAMPS.createdAt,
      contractVersion: "1",
      changeId: "01JGZ8X9V6Q3W2E1R0T9Y8U7I6",
    },
  });
  assertEquals(decodeWatchHostsResponse(complete), {
    complete: { count: 12345, changeId: "01JGZ8X9V6Q3W2E1R0T9Y8U7I6" },
  });
  assertEquals(
    decodeWatchHostsResponse(encodeTheirs("WatchHostsResponse", { complete: {} })),
    { complete: { count: 0, changeId: "" } },
  );
  assertEquals(decodeWatchHostsResponse(new Uint8Array(0)), {});
});
