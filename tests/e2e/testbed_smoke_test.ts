/**
 * The router-hosts part of the test bed works: the server serves over mTLS to
 * the operator's client certificate, refuses a certificate from another CA,
 * writes the hosts file, and keeps its data across a restart on the same port.
 * Deliberately tiny: the operator's real gRPC client has its own tests.
 */
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { hostsPackageDefinition } from "../../proto/mod.ts";
import { assertEquals, assertOk, assertRejects } from "../assert.ts";
import {
  dumpLogs,
  liveProcessCount,
  type RouterHostsTestbed,
  startRouterHosts,
} from "../testbed/mod.ts";

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

interface HostEntry {
  id: string;
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags: string[];
  aliases: string[];
  version: string;
}

/** A raw grpc-js client with the given identity; dials the name, not the IP (Deno refuses IP server names). */
function dial(
  rh: RouterHostsTestbed,
  identity: { caPath: string; certPath: string; keyPath: string },
): grpc.Client {
  const pkg = grpc.loadPackageDefinition(hostsPackageDefinition()) as unknown as {
    router_hosts: { v1: { HostsService: grpc.ServiceClientConstructor } };
  };
  const read = (path: string) => Buffer.from(Deno.readFileSync(path));
  const creds = grpc.credentials.createSsl(
    read(identity.caPath),
    read(identity.keyPath),
    read(identity.certPath),
  );
  return new pkg.router_hosts.v1.HostsService(rh.address, creds);
}

function call<T>(
  client: grpc.Client,
  method: string,
  request: unknown,
  deadlineMs = 5000,
): Promise<T> {
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  return new Promise((resolve, reject) => {
    fn.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => {
        if (err) reject(err);
        else resolve(res as T);
      },
    );
  });
}

Deno.test({
  name: "router-hosts test bed: mTLS, hosts file, restart keeps data",
  // grpc-js keeps timers and sockets beyond each call.
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  // No try/skip around this: when the server cannot start the test fails with the reason.
  const rh = await startRouterHosts();
  const clients: grpc.Client[] = [];
  const operator = () => {
    const c = dial(rh, {
      caPath: rh.caPath,
      certPath: rh.clientCertPath,
      keyPath: rh.clientKeyPath,
    });
    clients.push(c);
    return c;
  };
  try {
    console.error(`[testbed] router-hosts kind: ${rh.kind} (${rh.why})`);
    let client = operator();
    assertEquals(await call(client, "Liveness", {}), { alive: true });

    const added = await call<{ id: string; entry: HostEntry }>(client, "AddHost", {
      ipAddress: "192.168.50.10",
      hostname: "smoke.example.test",
      comment: "k8s:smoke/test",
      tags: ["smoke", "testbed"],
      aliases: ["smoke-alias.example.test"],
    });
    assertOk(added.id, "AddHost returned no id");
    assertEquals(added.entry.version, "1");

    const expectedLine = {
      ip: "192.168.50.10",
      hostname: "smoke.example.test",
      aliases: ["smoke-alias.example.test"],
      comment: "k8s:smoke/test",
      tags: ["smoke", "testbed"],
    };
    assertEquals(await rh.readHostsFile(), [expectedLine]);

    // A client certificate from another CA is refused, even though it trusts the server.
    const foreign = dial(rh, {
      caPath: rh.caPath,
      certPath: rh.foreignClientCertPath,
      keyPath: rh.foreignClientKeyPath,
    });
    clients.push(foreign);
    const refused = await assertRejects(
      () => call(foreign, "Liveness", {}, 3000),
      "a foreign client cert was accepted",
    );
    assertOk((refused as grpc.ServiceError).code !== undefined, `not a gRPC error: ${refused}`);

    client.close();
    await rh.restart();
    client = operator();
    const got = await call<{ entry: HostEntry }>(client, "GetHost", { id: added.id });
    assertEquals(
      [got.entry.hostname, got.entry.ipAddress, got.entry.version],
      ["smoke.example.test", "192.168.50.10", "1"],
    );
    assertEquals(await rh.readHostsFile(), [expectedLine]);
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    for (const c of clients) c.close();
    await rh.dispose();
  }
  assertEquals(liveProcessCount(), 0, "the server process outlived dispose()");
});
