/**
 * The test bed's own parts work. router-hosts: the server serves over mTLS to
 * the operator's client certificate, refuses a certificate from another CA,
 * writes the hosts file, and keeps its data across a restart on the same port.
 * CRDs: the real Traefik and Gateway API CRDs (from their Go modules, at the
 * pinned versions) install, serve the kinds the operator watches, and enforce
 * their projects' schemas. Deliberately tiny: the operator's real gRPC client
 * and controllers have their own tests.
 */
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { isDeepStrictEqual } from "node:util";
import { hostsPackageDefinition } from "../../proto/mod.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import {
  dumpLogs,
  installCrds,
  KubeApiError,
  liveProcessCount,
  type RouterHostsTestbed,
  startKube,
  startRouterHosts,
  uniqueName,
  VERSIONS,
} from "../testbed/mod.ts";
import { waitForHostsFile } from "../testbed/observe.ts";

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
    await waitForHostsFile(rh, "only the smoke line", (l) => isDeepStrictEqual(l, [expectedLine]));

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
    await waitForHostsFile(rh, "only the smoke line", (l) => isDeepStrictEqual(l, [expectedLine]));
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    for (const c of clients) c.close();
    await rh.dispose();
  }
  assertEquals(liveProcessCount(), 0, "the server process outlived dispose()");
});

Deno.test({
  name: "kube test bed: the real Traefik and Gateway API CRDs serve the watched kinds",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const kube = await startKube();
  let failed = false;
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step(name, fn)) failed = true;
  };
  try {
    const t0 = performance.now();
    await installCrds(kube, "traefik");
    const t1 = performance.now();
    await installCrds(kube, "gateway-api");
    console.error(
      `[testbed] CRDs established and served: traefik ${VERSIONS.crds.traefik.version} in ${
        Math.round(t1 - t0)
      } ms, gateway-api ${VERSIONS.crds["gateway-api"].version} in ${
        Math.round(performance.now() - t1)
      } ms`,
    );
    const ns = await kube.createNamespace(uniqueName("crds"));

    await step("the installed CRDs carry the pinned releases", async () => {
      const crd = (name: string) =>
        kube.getJson<{ metadata: { annotations?: Record<string, string> } }>(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
      const gw = await crd("httproutes.gateway.networking.k8s.io");
      assertEquals(
        gw.metadata.annotations?.["gateway.networking.k8s.io/bundle-version"],
        VERSIONS.crds["gateway-api"].version,
      );
      assertEquals(gw.metadata.annotations?.["gateway.networking.k8s.io/channel"], "standard");
      await crd("ingressroutes.traefik.io");
      await crd("ingressroutetcps.traefik.io");
    });

    await step("Traefik: IngressRoute and IngressRouteTCP at traefik.io/v1alpha1", async () => {
      for (
        const [kind, plural, match] of [
          ["IngressRoute", "ingressroutes", "Host(`app.example`)"],
          ["IngressRouteTCP", "ingressroutetcps", "HostSNI(`db.example`)"],
        ]
      ) {
        const obj = await kube.postJson<{ spec: { routes: { match: string }[] } }>(
          `/apis/traefik.io/v1alpha1/namespaces/${ns}/${plural}`,
          {
            apiVersion: "traefik.io/v1alpha1",
            kind,
            metadata: { name: "r" },
            spec: { routes: [{ match, services: [{ name: "web", port: 80 }] }] },
          },
        );
        assertEquals(obj.spec.routes[0].match, match);
      }
      // The real schema, not an open one: a route needs its match.
      const err = await assertRejects(() =>
        kube.postJson(`/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`, {
          apiVersion: "traefik.io/v1alpha1",
          kind: "IngressRoute",
          metadata: { name: "no-match" },
          spec: { routes: [{ kind: "Rule" }] },
        })
      );
      assertOk(err instanceof KubeApiError && err.reason === "Invalid", String(err));
      assertMatch(err.message, /spec\.routes\[0\]\.match: Required value/);
    });

    await step(
      "Gateway API: Gateway status addresses, HTTPRoute, GRPCRoute, TLSRoute at v1",
      async () => {
        const api = "/apis/gateway.networking.k8s.io/v1";
        await kube.postJson(`${api}/gatewayclasses`, {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "GatewayClass",
          metadata: { name: ns },
          spec: { controllerName: "example.com/testbed" },
        });
        await kube.postJson(`${api}/namespaces/${ns}/gateways`, {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "Gateway",
          metadata: { name: "gw" },
          spec: {
            gatewayClassName: ns,
            listeners: [{ name: "https", port: 443, protocol: "HTTPS", hostname: "*.lan" }],
          },
        });
        // What a Gateway controller does, and what the operator reads the IP from.
        const gw = await kube.request<{ status?: { addresses?: unknown[] } }>(
          "PATCH",
          `${api}/namespaces/${ns}/gateways/gw/status`,
          {
            body: { status: { addresses: [{ type: "IPAddress", value: "10.3.0.1" }] } },
            contentType: "application/merge-patch+json",
          },
        );
        assertEquals(gw.status, 200, gw.text);
        assertEquals(gw.body.status?.addresses, [{ type: "IPAddress", value: "10.3.0.1" }]);

        const parentRefs = [{ name: "gw" }];
        const routes: [string, string, Record<string, unknown>][] = [
          ["HTTPRoute", "httproutes", { parentRefs, hostnames: ["a.lan", "b.lan"] }],
          ["GRPCRoute", "grpcroutes", { parentRefs, hostnames: ["grpc.lan"] }],
          ["TLSRoute", "tlsroutes", {
            parentRefs,
            hostnames: ["tls.lan"],
            rules: [{ backendRefs: [{ name: "web", port: 443 }] }],
          }],
        ];
        for (const [kind, plural, spec] of routes) {
          const obj = await kube.postJson<{ spec: { hostnames: string[] } }>(
            `${api}/namespaces/${ns}/${plural}`,
            {
              apiVersion: "gateway.networking.k8s.io/v1",
              kind,
              metadata: { name: "same-name" },
              spec,
            },
          );
          assertEquals(obj.spec.hostnames, spec.hostnames, kind);
        }
        // The real schema validates hostnames (RFC 1123, one leading wildcard label at most).
        const err = await assertRejects(() =>
          kube.postJson(`${api}/namespaces/${ns}/httproutes`, {
            apiVersion: "gateway.networking.k8s.io/v1",
            kind: "HTTPRoute",
            metadata: { name: "bad-host" },
            spec: { parentRefs, hostnames: ["bad_host!.lan"] },
          })
        );
        assertOk(err instanceof KubeApiError && err.reason === "Invalid", String(err));
        assertMatch(err.message, /spec\.hostnames\[0\]/);
      },
    );
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (failed) dumpLogs();
    await kube.stop();
  }
});
