import { assertEquals, assertThrows } from "../tests/assert.ts";
import {
  apiVersionOf,
  collectionPath,
  objectKey,
  objectPath,
  parseKey,
  type ResourceType,
} from "./resource.ts";

const HM: ResourceType = {
  group: "router-hosts.fzymgc.house",
  version: "v1alpha1",
  plural: "hostmappings",
  kind: "HostMapping",
  namespaced: true,
};
const NODES: ResourceType = {
  group: "",
  version: "v1",
  plural: "nodes",
  kind: "Node",
  namespaced: false,
};

Deno.test("paths of grouped, core, namespaced and cluster-scoped resources", () => {
  assertEquals(collectionPath(HM), "/apis/router-hosts.fzymgc.house/v1alpha1/hostmappings");
  assertEquals(
    objectPath(HM, "ns", "a", "status"),
    "/apis/router-hosts.fzymgc.house/v1alpha1/namespaces/ns/hostmappings/a/status",
  );
  assertEquals(collectionPath(NODES, "ignored"), "/api/v1/nodes");
  assertEquals(objectPath(NODES, undefined, "n1"), "/api/v1/nodes/n1");
  assertEquals(apiVersionOf(HM), "router-hosts.fzymgc.house/v1alpha1");
  assertEquals(apiVersionOf(NODES), "v1");
  assertThrows(() => objectPath(HM, undefined, "a"));
});

Deno.test("keys are namespace/name, or name when cluster-scoped, and parse back", () => {
  assertEquals(objectKey({ metadata: { namespace: "ns", name: "a" } }), "ns/a");
  assertEquals(objectKey({ metadata: { name: "n1" } }), "n1");
  assertEquals(parseKey("ns/a"), { namespace: "ns", name: "a" });
  assertEquals(parseKey("n1"), { namespace: "", name: "n1" });
  assertThrows(() => objectKey({ metadata: {} }));
});
