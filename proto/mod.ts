/**
 * The router-hosts protocol, loaded from the .proto text that is embedded in
 * the module graph (a static text import), so `deno compile` carries it and
 * nothing is read from disk at run time.
 *
 * @module
 */
import protobuf from "protobufjs";
import * as protoLoader from "@grpc/proto-loader";
import hostsProto from "./router_hosts/v1/hosts.proto" with { type: "text" };

/** Options shared by the client and the test bed: camelCase fields, presence kept for optionals. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Parses the embedded .proto into a protobufjs root (with google.protobuf.Timestamp), fields in camelCase. */
export function hostsRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const timestamp = protobuf.common.get("google/protobuf/timestamp.proto");
  if (timestamp) root.addJSON(timestamp.nested ?? {});
  protobuf.parse(hostsProto, root, { keepCase: false });
  root.resolveAll();
  return root;
}

/** The grpc-js package definition of `router_hosts.v1`. */
export function hostsPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.fromJSON(hostsRoot().toJSON(), LOADER_OPTIONS);
}
