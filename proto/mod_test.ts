/**
 * The embedded .proto speaks router-hosts v0.13.0's wire contract: every
 * message we use survives the grpc-js serializers with presence intact, and
 * field numbers, types, labels, the service and its methods equal the table
 * in the API spec (router-hosts-api.md). A renumbered or retyped field
 * breaks these tests, not production.
 */
import { Buffer } from "node:buffer";
import type protobuf from "protobufjs";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { hostsPackageDefinition, hostsRoot } from "./mod.ts";

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

const SERVICE = "router_hosts.v1.HostsService";

function method(name: string): MethodDefinition {
  const service = hostsPackageDefinition()[SERVICE] as unknown as Record<string, MethodDefinition>;
  const m = service[name];
  assertOk(m, `${SERVICE} has no method ${name}`);
  return m;
}

/** Serializes with the request serializer and reads it back; returns the bytes and the decoded object. */
function roundTripRequest(name: string, value: unknown): { bytes: Buffer; decoded: unknown } {
  const m = method(name);
  const bytes = m.requestSerialize(value);
  return { bytes, decoded: m.requestDeserialize(bytes) };
}

function roundTripResponse(name: string, value: unknown): { bytes: Buffer; decoded: unknown } {
  const m = method(name);
  const bytes = m.responseSerialize(value);
  return { bytes, decoded: m.responseDeserialize(bytes) };
}

const hex = (bytes: Buffer) => bytes.toString("hex");

const ID = "01JGZ8X9V6Q3W2E1R0T9Y8U7I6";
const CREATED = { seconds: "1767225600", nanos: 123_000_000 };
const UPDATED = { seconds: "1767225601", nanos: 0 };

/** A HostEntry as the deserializer yields it (defaults filled, `_comment` marks presence). */
function decodedEntry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: ID,
    ipAddress: "192.168.1.10",
    hostname: "nas.lan",
    tags: ["k8s", "storage"],
    aliases: ["files.lan", "backup.lan"],
    createdAt: CREATED,
    updatedAt: UPDATED,
    version: "3",
    ...overrides,
  };
}

Deno.test("HostEntry keeps all fields, the Timestamps and a set comment through AddHostResponse", () => {
  const entry = { ...decodedEntry(), comment: "k8s:default/nas" };
  const { decoded } = roundTripResponse("AddHost", { id: ID, entry });
  assertEquals(decoded, {
    id: ID,
    entry: { ...decodedEntry(), comment: "k8s:default/nas", _comment: "comment" },
  });
});

Deno.test("HostEntry comment: absent stays absent, empty stays present and empty", () => {
  const absent = roundTripResponse("GetHost", { entry: decodedEntry() });
  assertEquals(absent.decoded, { entry: decodedEntry() });

  const empty = roundTripResponse("GetHost", { entry: { ...decodedEntry(), comment: "" } });
  assertEquals(empty.decoded, { entry: { ...decodedEntry(), comment: "", _comment: "comment" } });
  // Field 4, length 0: presence is on the wire, not only in our objects.
  assertOk(hex(empty.bytes).includes("2200"), hex(empty.bytes));
  assertEquals(hex(absent.bytes).length + 4, hex(empty.bytes).length);
});

Deno.test("HostEntry without timestamps decodes them as null, not as the epoch", () => {
  const { decoded } = roundTripResponse("UpdateHost", {
    entry: { id: ID, ipAddress: "10.0.0.1", hostname: "a.lan" },
  });
  assertEquals(decoded, {
    entry: {
      id: ID,
      ipAddress: "10.0.0.1",
      hostname: "a.lan",
      tags: [],
      aliases: [],
      createdAt: null,
      updatedAt: null,
      version: "",
    },
  });
});

Deno.test("AddHostRequest round-trips with and without a comment", () => {
  const full = {
    ipAddress: "10.0.0.5",
    hostname: "nas.lan",
    comment: "k8s:ns/name",
    tags: ["a", "b"],
    aliases: ["x.lan"],
  };
  assertEquals(roundTripRequest("AddHost", full).decoded, { ...full, _comment: "comment" });
  const bare = { ipAddress: "10.0.0.5", hostname: "nas.lan" };
  assertEquals(roundTripRequest("AddHost", bare).decoded, { ...bare, tags: [], aliases: [] });
  // An undefined comment (how our client leaves it out) is not sent.
  assertEquals(
    roundTripRequest("AddHost", { ...bare, comment: undefined }).decoded,
    { ...bare, tags: [], aliases: [] },
  );
});

Deno.test("GetHostRequest and DeleteHost messages round-trip; expected_version presence is kept", () => {
  const get = roundTripRequest("GetHost", { id: "01J" });
  assertEquals(get.decoded, { id: "01J" });
  assertEquals(hex(get.bytes), "0a03" + Buffer.from("01J").toString("hex"));

  assertEquals(roundTripRequest("DeleteHost", { id: "01J" }).decoded, { id: "01J" });
  assertEquals(
    roundTripRequest("DeleteHost", { id: "01J", expectedVersion: "4" }).decoded,
    { id: "01J", expectedVersion: "4", _expectedVersion: "expectedVersion" },
  );
  assertEquals(roundTripResponse("DeleteHost", { success: true }).decoded, { success: true });
  assertEquals(roundTripResponse("DeleteHost", { success: false }).decoded, { success: false });
});

Deno.test("UpdateHostRequest: optional scalars keep presence; an empty wrapper is sent and differs from none", () => {
  const none = roundTripRequest("UpdateHost", { id: "01J", expectedVersion: "2" });
  assertEquals(none.decoded, {
    id: "01J",
    expectedVersion: "2",
    _expectedVersion: "expectedVersion",
    aliases: null,
    tags: null,
  });

  const cleared = roundTripRequest("UpdateHost", {
    id: "01J",
    expectedVersion: "2",
    aliases: { values: [] },
    tags: { values: [] },
  });
  assertEquals(cleared.decoded, {
    id: "01J",
    expectedVersion: "2",
    _expectedVersion: "expectedVersion",
    aliases: { values: [] },
    tags: { values: [] },
  });
  // Field 7 and field 8, each length-delimited with length 0.
  assertEquals(hex(cleared.bytes), hex(none.bytes) + "3a00" + "4200");

  const everything = {
    id: "01J",
    ipAddress: "10.0.0.6",
    hostname: "b.lan",
    comment: "",
    expectedVersion: "7",
    aliases: { values: ["c.lan", "d.lan"] },
    tags: { values: ["t"] },
  };
  assertEquals(roundTripRequest("UpdateHost", everything).decoded, {
    ...everything,
    _ipAddress: "ipAddress",
    _hostname: "hostname",
    _comment: "comment",
    _expectedVersion: "expectedVersion",
  });
});

Deno.test("UpdateHostResponse carries the full entry", () => {
  const entry = { ...decodedEntry(), version: "9" };
  assertEquals(roundTripResponse("UpdateHost", { entry }).decoded, { entry });
});

Deno.test("SearchHosts and ListHosts messages round-trip; ListHosts optionals keep presence", () => {
  assertEquals(roundTripRequest("SearchHosts", { query: "nas" }).decoded, { query: "nas" });
  assertEquals(roundTripRequest("SearchHosts", {}).decoded, { query: "" });
  assertEquals(roundTripResponse("SearchHosts", { entry: decodedEntry() }).decoded, {
    entry: decodedEntry(),
  });

  assertEquals(roundTripRequest("ListHosts", {}).decoded, {});
  assertEquals(roundTripRequest("ListHosts", { filter: "", limit: 0, offset: 5 }).decoded, {
    filter: "",
    limit: 0,
    offset: 5,
    _filter: "filter",
    _limit: "limit",
    _offset: "offset",
  });
  assertEquals(roundTripResponse("ListHosts", { entry: decodedEntry() }).decoded, {
    entry: decodedEntry(),
  });
});

Deno.test("Liveness and Readiness messages round-trip", () => {
  const live = roundTripRequest("Liveness", {});
  assertEquals([live.decoded, live.bytes.length], [{}, 0]);
  assertEquals(roundTripResponse("Liveness", { alive: true }).decoded, { alive: true });
  assertEquals(roundTripRequest("Readiness", {}).decoded, {});
  assertEquals(
    roundTripResponse("Readiness", { ready: false, reason: "migrating" }).decoded,
    { ready: false, reason: "migrating" },
  );
});

// --- wire compatibility with the spec's table --------------------------------------------

type Label = "" | "optional" | "repeated";
/** [number, server field name (snake_case), type (scalar or full message name), label]. */
type FieldSpec = [number, string, string, Label];

const ENTRY = "router_hosts.v1.HostEntry";

/** The table of router-hosts-api.md, transcribed. */
const SPEC: Record<string, FieldSpec[]> = {
  "google.protobuf.Timestamp": [[1, "seconds", "int64", ""], [2, "nanos", "int32", ""]],
  "router_hosts.v1.HostEntry": [
    [1, "id", "string", ""],
    [2, "ip_address", "string", ""],
    [3, "hostname", "string", ""],
    [4, "comment", "string", "optional"],
    [5, "tags", "string", "repeated"],
    [6, "created_at", "google.protobuf.Timestamp", ""],
    [7, "updated_at", "google.protobuf.Timestamp", ""],
    [8, "version", "string", ""],
    [9, "aliases", "string", "repeated"],
  ],
  "router_hosts.v1.AliasesUpdate": [[1, "values", "string", "repeated"]],
  "router_hosts.v1.TagsUpdate": [[1, "values", "string", "repeated"]],
  "router_hosts.v1.AddHostRequest": [
    [1, "ip_address", "string", ""],
    [2, "hostname", "string", ""],
    [3, "comment", "string", "optional"],
    [4, "tags", "string", "repeated"],
    [5, "aliases", "string", "repeated"],
  ],
  "router_hosts.v1.AddHostResponse": [[1, "id", "string", ""], [2, "entry", ENTRY, ""]],
  "router_hosts.v1.GetHostRequest": [[1, "id", "string", ""]],
  "router_hosts.v1.GetHostResponse": [[1, "entry", ENTRY, ""]],
  "router_hosts.v1.UpdateHostRequest": [
    [1, "id", "string", ""],
    [2, "ip_address", "string", "optional"],
    [3, "hostname", "string", "optional"],
    [4, "comment", "string", "optional"],
    [6, "expected_version", "string", "optional"],
    [7, "aliases", "router_hosts.v1.AliasesUpdate", ""],
    [8, "tags", "router_hosts.v1.TagsUpdate", ""],
  ],
  "router_hosts.v1.UpdateHostResponse": [[1, "entry", ENTRY, ""]],
  "router_hosts.v1.DeleteHostRequest": [
    [1, "id", "string", ""],
    [2, "expected_version", "string", "optional"],
  ],
  "router_hosts.v1.DeleteHostResponse": [[1, "success", "bool", ""]],
  "router_hosts.v1.ListHostsRequest": [
    [1, "filter", "string", "optional"],
    [2, "limit", "int32", "optional"],
    [3, "offset", "int32", "optional"],
  ],
  "router_hosts.v1.ListHostsResponse": [[1, "entry", ENTRY, ""]],
  "router_hosts.v1.SearchHostsRequest": [[1, "query", "string", ""]],
  "router_hosts.v1.SearchHostsResponse": [[1, "entry", ENTRY, ""]],
  "router_hosts.v1.LivenessRequest": [],
  "router_hosts.v1.LivenessResponse": [[1, "alive", "bool", ""]],
  "router_hosts.v1.ReadinessRequest": [],
  "router_hosts.v1.ReadinessResponse": [[1, "ready", "bool", ""], [2, "reason", "string", ""]],
  // WatchHosts, from the server's v0.13.0 .proto (the spec's table stops before it).
  "router_hosts.v1.WatchHostsRequest": [[1, "follow", "bool", ""]],
  "router_hosts.v1.SnapshotComplete": [
    [1, "count", "int32", ""],
    [2, "generated_at", "google.protobuf.Timestamp", ""],
    [3, "contract_version", "string", ""],
    [4, "change_id", "string", ""],
  ],
  "router_hosts.v1.WatchHostsResponse": [
    [1, "entry", ENTRY, ""],
    [2, "complete", "router_hosts.v1.SnapshotComplete", ""],
  ],
};

/** Real (non-synthetic) oneofs: message → field → oneof name. */
const ONEOFS: Record<string, Record<string, string>> = {
  "router_hosts.v1.WatchHostsResponse": { entry: "payload", complete: "payload" },
};

/** [method, request, response, server streaming, client streaming]. */
const METHODS: [string, string, string, boolean, boolean][] = [
  ["AddHost", "AddHostRequest", "AddHostResponse", false, false],
  ["GetHost", "GetHostRequest", "GetHostResponse", false, false],
  ["UpdateHost", "UpdateHostRequest", "UpdateHostResponse", false, false],
  ["DeleteHost", "DeleteHostRequest", "DeleteHostResponse", false, false],
  ["ListHosts", "ListHostsRequest", "ListHostsResponse", true, false],
  ["SearchHosts", "SearchHostsRequest", "SearchHostsResponse", true, false],
  ["Liveness", "LivenessRequest", "LivenessResponse", false, false],
  ["Readiness", "ReadinessRequest", "ReadinessResponse", false, false],
  ["WatchHosts", "WatchHostsRequest", "WatchHostsResponse", true, true],
];

/** protobufjs (keepCase: false) names fields as the .proto's snake_case in camelCase. */
const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function describeField(field: protobuf.Field): FieldSpec {
  const type = field.resolvedType ? field.resolvedType.fullName.replace(/^\./, "") : field.type;
  const label: Label = field.repeated
    ? "repeated"
    : field.options?.proto3_optional === true
    ? "optional"
    : "";
  return [field.id, field.name, type, label];
}

Deno.test("every message's field numbers, names, types and labels equal the spec's table", () => {
  const root = hostsRoot();
  for (const [name, spec] of Object.entries(SPEC)) {
    const type = root.lookupType(name);
    const actual = type.fieldsArray.map(describeField).sort((a, b) => a[0] - b[0]);
    const expected = spec.map(([id, field, t, label]): FieldSpec => [id, camel(field), t, label]);
    assertEquals(actual, expected, name);
    for (const field of type.fieldsArray) {
      // proto3 `optional` is a synthetic oneof named after the field: that is how presence travels.
      const synthetic = field.options?.proto3_optional === true;
      assertEquals(
        field.partOf?.name,
        synthetic ? `_${field.name}` : ONEOFS[name]?.[field.name],
        `${name}.${field.name}`,
      );
    }
  }
});

Deno.test("UpdateHostRequest keeps field 5 reserved", () => {
  const type = hostsRoot().lookupType("router_hosts.v1.UpdateHostRequest");
  // protobufjs keeps `reserved 5;` as the range [5, 5] (its own isReservedId misses it).
  assertEquals(type.reserved, [[5, 5]]);
  assertEquals(type.fieldsById[5], undefined);
});

Deno.test("HostsService: full name, methods, request/response types and streaming flags equal the spec", () => {
  const service = hostsRoot().lookupService(SERVICE);
  assertEquals(service.fullName, `.${SERVICE}`);
  const actual = service.methodsArray.map((m) => {
    m.resolve();
    return [
      m.name,
      m.resolvedRequestType?.fullName,
      m.resolvedResponseType?.fullName,
      m.requestStream === true,
      m.responseStream === true,
    ];
  });
  assertEquals(
    actual,
    METHODS.map(([name, req, res, stream, requestStream]) => [
      name,
      `.router_hosts.v1.${req}`,
      `.router_hosts.v1.${res}`,
      requestStream,
      stream,
    ]),
  );

  // What grpc-js actually dials: the HTTP/2 path and the streaming flags it acts on.
  const definition = hostsPackageDefinition();
  const services = Object.keys(definition).filter((k) => "AddHost" in (definition[k] as object));
  assertEquals(services, [SERVICE]);
  for (const [name, , , stream, requestStream] of METHODS) {
    const m = method(name);
    assertEquals(
      [m.path, m.requestStream, m.responseStream],
      [`/${SERVICE}/${name}`, requestStream, stream],
      name,
    );
  }
});
