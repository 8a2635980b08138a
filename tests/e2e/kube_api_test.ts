/**
 * The HostMapping CRD on a real kube-apiserver: it installs, stores objects,
 * serves the status subresource and rejects bad input at admission with
 * messages a user can act on. Also proves the test bed's own features that
 * later e2e tests rely on (service-account identities, restart, freeze).
 */
import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import {
  dumpLogs,
  installCrds,
  KubeApiError,
  type KubeTestbed,
  liveProcessCount,
  startKube,
  uniqueName,
} from "../testbed/mod.ts";

const API = "/apis/router-hosts.fzymgc.house/v1alpha1";

interface HostMapping {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec: { hostname: string; ip: string; aliases?: string[]; tags?: string[] };
  status?: Record<string, unknown>;
}

function hostMapping(name: string, spec: HostMapping["spec"]): HostMapping {
  return {
    apiVersion: "router-hosts.fzymgc.house/v1alpha1",
    kind: "HostMapping",
    metadata: { name },
    spec,
  };
}

/** Creates the object and returns the apiserver's rejection; fails if it was accepted. */
async function rejection(kube: KubeTestbed, ns: string, obj: HostMapping): Promise<KubeApiError> {
  const err = await assertRejects(
    () => kube.postJson(`${API}/namespaces/${ns}/hostmappings`, obj),
    `${JSON.stringify(obj.spec)} was accepted`,
  );
  assertOk(err instanceof KubeApiError, `unexpected error: ${err}`);
  assertEquals(err.status, 422, err.message);
  assertEquals(err.reason, "Invalid", err.message);
  return err;
}

// RFC 3339 without fractional seconds, as metav1.Time serialises.
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

Deno.test({
  name: "kube-apiserver test bed: HostMapping CRD admission, status subresource, RBAC, restart",
  // The bed's child processes and HTTP client live across steps.
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  // No try/skip around this: when the bed cannot start the test fails with the reason.
  const kube = await startKube();
  let failed = false;
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step(name, fn)) failed = true;
  };
  try {
    const t0 = performance.now();
    await installCrds(kube, "router-hosts", "traefik");
    console.error(
      `[testbed] CRDs established and served in ${Math.round(performance.now() - t0)} ms`,
    );

    await step("creates, reads and merge-patches the status of a HostMapping", async () => {
      const ns = await kube.createNamespace(uniqueName("hm-crud"));
      const created = await kube.postJson<HostMapping>(
        `${API}/namespaces/${ns}/hostmappings`,
        hostMapping("web", {
          hostname: "web.lab.example",
          ip: "fd00::10",
          aliases: ["www.lab.example"],
          tags: ["lab"],
        }),
      );
      assertEquals(created.metadata.generation, 1);
      assertEquals(created.status, undefined);

      const got = await kube.getJson<HostMapping>(`${API}/namespaces/${ns}/hostmappings/web`);
      assertEquals(got.spec, {
        hostname: "web.lab.example",
        ip: "fd00::10",
        aliases: ["www.lab.example"],
        tags: ["lab"],
      });

      const status = {
        phase: "Synced",
        message: "in sync",
        hostId: "01JB0000000000000000000000",
        hostVersion: "1",
        lastSyncTime: now(),
        conditions: [{
          type: "Synced",
          status: "True",
          reason: "Synced",
          message: "entry matches the spec",
          lastTransitionTime: now(),
          observedGeneration: 1,
        }],
      };
      // A spec change sent to /status must be ignored: only status is writable there.
      const patched = await kube.mergePatchJson<HostMapping>(
        `${API}/namespaces/${ns}/hostmappings/web/status`,
        { status, spec: { ip: "10.9.9.9" } },
      );
      assertEquals(patched.status, status);
      assertEquals(patched.spec.ip, "fd00::10");
      assertEquals(patched.metadata.generation, 1, "a status write must not bump generation");

      // Phase outside the enum is refused, with the allowed values named.
      const bad = await assertRejects(() =>
        kube.mergePatchJson(`${API}/namespaces/${ns}/hostmappings/web/status`, {
          status: { phase: "Done" },
        })
      );
      assertMatch(
        bad.message,
        /status\.phase: Unsupported value: "Done": supported values: "Pending", "Synced", "Error"/,
      );

      const table = await kube.kubectl(["get", "hm", "-n", ns]);
      assertEquals(table.code, 0, table.stderr);
      assertMatch(table.stdout, /^NAME\s+IP\s+HOSTNAME\s+PHASE\s+AGE\n/);
      assertMatch(table.stdout, /\nweb\s+fd00::10\s+web\.lab\.example\s+Synced\s+\S+\n/);
    });

    await step("rejects an IP that is not IPv4 or IPv6, with a readable message", async () => {
      const ns = await kube.createNamespace(uniqueName("hm-badip"));
      for (const ip of ["999.1.1.1", "not-an-ip", "10.0.0.0/24"]) {
        const err = await rejection(
          kube,
          ns,
          hostMapping("bad-ip", { hostname: "ok.example", ip }),
        );
        assertMatch(
          err.message,
          /spec\.ip: Invalid value: .*ip must be an IPv4 or IPv6 address, e\.g\. 192\.168\.1\.10/,
        );
      }
    });

    await step("rejects a hostname that is not a DNS name, with a readable message", async () => {
      const ns = await kube.createNamespace(uniqueName("hm-badname"));
      const longLabel = "a".repeat(64) + ".example";
      for (const hostname of ["bad_host.example", "-lead.example", "trail.", "a..b", longLabel]) {
        const err = await rejection(
          kube,
          ns,
          hostMapping("bad-name", { hostname, ip: "192.0.2.1" }),
        );
        assertMatch(
          err.message,
          /spec\.hostname: Invalid value: .*hostname must be a DNS name \(RFC 1123\)/,
        );
      }
      const tooLong = Array.from({ length: 5 }, () => "b".repeat(60)).join(".");
      const err = await rejection(
        kube,
        ns,
        hostMapping("too-long", { hostname: tooLong, ip: "192.0.2.1" }),
      );
      assertMatch(err.message, /spec\.hostname: Too long: may not be more than 253 bytes/);
    });

    await step(
      "rejects bad aliases: 51 of them, an invalid name, an IP, the hostname again",
      async () => {
        const ns = await kube.createNamespace(uniqueName("hm-aliases"));
        const fifty = Array.from({ length: 50 }, (_, i) => `alias${i}.example`);
        await kube.postJson(
          `${API}/namespaces/${ns}/hostmappings`,
          hostMapping("fifty", { hostname: "many.example", ip: "192.0.2.2", aliases: fifty }),
        );

        let err = await rejection(
          kube,
          ns,
          hostMapping("fifty-one", {
            hostname: "many.example",
            ip: "192.0.2.2",
            aliases: [...fifty, "one-more.example"],
          }),
        );
        assertMatch(err.message, /spec\.aliases: Too many: 51: must have at most 50 items/);

        err = await rejection(
          kube,
          ns,
          hostMapping("a1", {
            hostname: "h.example",
            ip: "192.0.2.3",
            aliases: ["ok.example", "no way"],
          }),
        );
        assertMatch(
          err.message,
          /spec\.aliases\[1\]: Invalid value: .*each alias must be a DNS name \(RFC 1123\)/,
        );

        err = await rejection(
          kube,
          ns,
          hostMapping("a2", { hostname: "h.example", ip: "192.0.2.3", aliases: ["192.0.2.4"] }),
        );
        assertMatch(
          err.message,
          /spec\.aliases\[0\]: Invalid value: .*an alias must be a DNS name, not an IP address/,
        );

        err = await rejection(
          kube,
          ns,
          hostMapping("a3", { hostname: "h.example", ip: "192.0.2.3", aliases: ["H.Example"] }),
        );
        assertMatch(
          err.message,
          /spec\.aliases: Invalid value: .*aliases must not repeat the hostname/,
        );
      },
    );

    await step("rejects reserved names, as hostname or alias", async () => {
      const ns = await kube.createNamespace(uniqueName("hm-reserved"));
      for (
        const hostname of ["localhost", "LOCALHOST.localdomain", "ip6-allnodes", "app.localhost"]
      ) {
        const err = await rejection(kube, ns, hostMapping("r", { hostname, ip: "10.1.0.17" }));
        assertMatch(err.message, /spec\.hostname: Invalid value: .*must not be a reserved name/);
      }
      const err = await rejection(
        kube,
        ns,
        hostMapping("ra", { hostname: "ok.example", ip: "10.1.0.17", aliases: ["broadcasthost"] }),
      );
      assertMatch(err.message, /spec\.aliases\[0\]: Invalid value: .*must not be a reserved name/);
    });

    await step("bounds tags: at most 50, each 1-253 characters", async () => {
      const ns = await kube.createNamespace(uniqueName("hm-tags"));
      const fifty = Array.from({ length: 50 }, (_, i) => `t${i}`);
      await kube.postJson(
        `${API}/namespaces/${ns}/hostmappings`,
        hostMapping("fifty", {
          hostname: "t.example",
          ip: "192.0.2.5",
          tags: [...fifty.slice(1), "x".repeat(253)],
        }),
      );
      let err = await rejection(
        kube,
        ns,
        hostMapping("more", { hostname: "t.example", ip: "192.0.2.5", tags: [...fifty, "t50"] }),
      );
      assertMatch(err.message, /spec\.tags: Too many: 51: must have at most 50 items/);
      err = await rejection(
        kube,
        ns,
        hostMapping("long", {
          hostname: "t.example",
          ip: "192.0.2.5",
          tags: ["x".repeat(100_000)],
        }),
      );
      assertMatch(err.message, /spec\.tags\[0\]: Too long: may not be more than 253 bytes/);
      err = await rejection(
        kube,
        ns,
        hostMapping("empty", { hostname: "t.example", ip: "192.0.2.5", tags: [""] }),
      );
      assertMatch(err.message, /spec\.tags\[0\]: Invalid value: .*should be at least 1 chars long/);
    });

    await step("a service-account kubeconfig is subject to RBAC", async () => {
      const ns = await kube.createNamespace(uniqueName("rbac"));
      const sa = await kube.makeServiceAccountKubeconfig(ns, "operator");
      assertEquals(sa.username, `system:serviceaccount:${ns}:operator`);

      let res = await kube.kubectl(["get", "hostmappings", "-n", ns], {
        kubeconfigPath: sa.kubeconfigPath,
      });
      assertOk(res.code !== 0, "an unbound service account must not list hostmappings");
      assertMatch(
        res.stderr,
        /forbidden: User "system:serviceaccount:[^"]+:operator" cannot list resource "hostmappings"/,
      );

      await kube.applyYaml(JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: "hm-reader", namespace: ns },
            rules: [{
              apiGroups: ["router-hosts.fzymgc.house"],
              resources: ["hostmappings"],
              verbs: ["get", "list"],
            }],
          },
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: "hm-reader", namespace: ns },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "hm-reader" },
            subjects: [{ kind: "ServiceAccount", name: "operator", namespace: ns }],
          },
        ],
      }));
      res = await kube.kubectl(["get", "hostmappings", "-n", ns], {
        kubeconfigPath: sa.kubeconfigPath,
      });
      assertEquals(res.code, 0, res.stderr);
    });

    await step(
      "restartApiserver keeps the data; a frozen apiserver times requests out",
      async () => {
        const ns = await kube.createNamespace(uniqueName("restart"));
        await kube.postJson(
          `${API}/namespaces/${ns}/hostmappings`,
          hostMapping("kept", { hostname: "kept.example", ip: "192.0.2.9" }),
        );
        await kube.restartApiserver();
        const got = await kube.getJson<HostMapping>(`${API}/namespaces/${ns}/hostmappings/kept`);
        assertEquals(got.spec.hostname, "kept.example");

        await kube.freeze();
        try {
          const err = await assertRejects(() =>
            kube.request("GET", "/readyz", { timeoutMs: 1000 })
          );
          assertMatch(String(err), /TimeoutError|timed out|aborted/i);
        } finally {
          kube.thaw();
        }
        const ready = await kube.request("GET", "/readyz", { timeoutMs: 10_000 });
        assertEquals(ready.status, 200, ready.text);
      },
    );
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (failed) dumpLogs();
    await kube.stop();
  }
  assertEquals(liveProcessCount(), 0, "etcd or kube-apiserver outlived stop()");
});
