/**
 * The TLS modes and target schemes the Go operator accepts, end to end: the
 * operator process syncs and cleans up a HostMapping in each, against a
 * router-hosts server (the test bed's; the emulator where the real server
 * has no such mode). And the diagnosis names the cause when a mode does not
 * fit the server.
 */
import { join } from "node:path";
import { RouterHostsClient } from "../../grpc/client.ts";
import { loadTlsMaterial, type TlsFiles } from "../../grpc/tls.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import {
  freePort,
  type RouterHostsTestbed,
  spawnManaged,
  startRouterHosts,
  trackSteps,
  uniqueName,
  waitForTcp,
} from "../testbed/mod.ts";
import { bedTest, FINALIZER, withOperator } from "../testbed/bed.ts";

bedTest({ name: "TLS modes and gRPC targets" }, async ({ bed, t }) => {
  let plain: RouterHostsTestbed | undefined;
  const { step, dumpLogsIfFailed } = trackSteps(t);
  const client = async (address: string, files: TlsFiles) =>
    new RouterHostsClient({ address, deadlineMs: 5_000, tls: await loadTlsMaterial(files) });

  /**
   * Runs the operator with `args` (after the bed's usual flags, so they win;
   * an empty value clears a flag), syncs one HostMapping, checks the entry
   * through `look`, deletes it and checks the entry is gone.
   */
  const syncAndClean = async (
    rh: RouterHostsTestbed,
    args: string[],
    look: RouterHostsClient,
    env: Record<string, string> = {},
    permissions: string[] = [],
  ) => {
    const ns = await bed.kube.createNamespace(uniqueName("tls"));
    return await withOperator(bed, { routerHosts: rh, args, env, permissions }, async (op) => {
      await bed.hm.create(ns, "box", { hostname: `${ns}.lan`, ip: "10.7.0.1" });
      const o = await bed.hm.waitSynced(ns, "box");
      assertOk(o.metadata.finalizers?.includes(FINALIZER));
      const entry = await look.getHost(o.status!.hostId!);
      assertEquals([entry.hostname, entry.comment], [`${ns}.lan`, `k8s:${ns}/box`]);
      await bed.hm.delete(ns, "box");
      await bed.hm.waitGone(ns, "box");
      const gone = await assertRejects(() => look.getHost(entry.id));
      assertMatch(gone.message, /NOT_FOUND/);
      return op.logs().find((l) => l.msg === "starting router-hosts-operator");
    });
  };

  try {
    plain = await startRouterHosts({ clientAuth: false, unixSocket: true });
    const serverOnly = plain;

    await step(
      "--tls-ca alone: server-authenticated TLS to a server that asks for no client certificate",
      async () => {
        const look = await client(serverOnly.address, { caPath: serverOnly.caPath });
        try {
          const started = await syncAndClean(serverOnly, ["--tls-cert=", "--tls-key="], look);
          assertEquals(
            (started?.tls as Record<string, unknown>)?.mode,
            "server-authenticated TLS",
          );
        } finally {
          look.close();
        }
      },
    );

    await step(
      "--tls-ca alone against a server that requires a client certificate: the diagnosis says so",
      async () => {
        const c = await client(bed.rh.address, { caPath: bed.rh.caPath });
        try {
          const e = await assertRejects(() => c.liveness());
          assertMatch(e.message, /UNAVAILABLE/);
          assertMatch(e.message, /requires a client certificate.*--tls-cert and --tls-key/);
        } finally {
          c.close();
        }
      },
    );

    await step(
      "--tls-cert + --tls-key: the server verified against the system roots (SSL_CERT_FILE)",
      async () => {
        const started = await syncAndClean(bed.rh, ["--tls-ca="], bed.hosts, {
          SSL_CERT_FILE: bed.rh.caPath,
          // This machine sets SSL_CERT_DIR; Go reads it as well as SSL_CERT_FILE, and so does
          // the operator. Cleared so the test CA is the only root.
          SSL_CERT_DIR: "",
        });
        const tls = started?.tls as Record<string, unknown>;
        assertEquals(tls?.mode, "client certificate, system roots");
        assertEquals(tls?.roots, `the system roots (${bed.rh.caPath})`);
      },
    );

    await step(
      "--tls-cert + --tls-key with system roots that lack the server's CA: named",
      async () => {
        const c = await client(bed.rh.address, {
          certPath: bed.rh.clientCertPath,
          keyPath: bed.rh.clientKeyPath,
          systemRoots: { file: bed.rh.foreignCaPath },
        });
        try {
          const e = await assertRejects(() => c.liveness());
          assertMatch(e.message, /signed by unknown authority .*is not in the system roots/);
          assertMatch(e.message, /--tls-ca/);
        } finally {
          c.close();
        }
      },
    );

    await step("dns:///localhost:PORT target, mutual TLS", async () => {
      await syncAndClean(bed.rh, [`--server-address=dns:///localhost:${bed.rh.port}`], bed.hosts);
    });

    await step(
      "unix:///path target: TLS without a name check, the chain still verified",
      async () => {
        const look = await client(`unix://${serverOnly.socketPath}`, {
          caPath: serverOnly.caPath,
        });
        try {
          await syncAndClean(
            serverOnly,
            [
              `--server-address=unix://${serverOnly.socketPath}`,
              "--tls-cert=",
              "--tls-key=",
            ],
            look,
            {},
            [`--allow-write=${serverOnly.socketPath}`],
          );
        } finally {
          look.close();
        }
        // The chain is not skipped: a CA that did not sign the server certificate fails.
        const wrong = await client(`unix://${serverOnly.socketPath}`, {
          caPath: serverOnly.foreignCaPath,
        });
        try {
          const e = await assertRejects(() => wrong.liveness());
          assertMatch(e.message, /UNAVAILABLE/);
          assertMatch(e.message, /unknown authority|cannot be verified/);
        } finally {
          wrong.close();
        }
      },
    );

    await step(
      "TLS 1.3 is the minimum: a TLS 1.2-only server is refused, and the diagnosis says why",
      async () => {
        // Node's own HTTP/2 server capped at TLS 1.2, with the bed's server certificate.
        const port = freePort();
        const pki = join(bed.rh.dir, "pki");
        const script = `
      const http2 = require("node:http2"), fs = require("node:fs");
      const s = http2.createSecureServer({
        cert: fs.readFileSync(${JSON.stringify(join(pki, "server.crt"))}),
        key: fs.readFileSync(${JSON.stringify(join(pki, "server.key"))}),
        maxVersion: "TLSv1.2",
      });
      s.on("stream", (st) => { st.respond({ ":status": 200, "content-type": "application/grpc" }); st.end(); });
      s.listen(${port}, "127.0.0.1");`;
        const server = spawnManaged({
          name: "tls12-server",
          command: "node",
          args: ["-e", script],
          logPath: join(bed.rh.dir, "tls12.log"),
        });
        const c = await client(`localhost:${port}`, { caPath: bed.rh.caPath });
        try {
          await waitForTcp("127.0.0.1", port, 30_000, () => !server.exited);
          const e = await assertRejects(() => c.liveness());
          assertMatch(e.message, /UNAVAILABLE/);
          assertMatch(e.message, /does not offer TLS 1\.3/);
        } finally {
          c.close();
          await server.stop();
        }
      },
    );
    dumpLogsIfFailed();
  } finally {
    await plain?.dispose();
  }
});
