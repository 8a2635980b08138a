/**
 * Our RouterHostsClient against the test-bed router-hosts server over mTLS:
 * entries round-trip to the server and its hosts file, each failure the
 * controllers branch on arrives as its outcome, a dead or frozen server ends
 * a call within its deadline, and every TLS misconfiguration produces a
 * message that names the cause and the flag to fix.
 *
 * One server for the whole file. Clients are closed before the server stops:
 * Deno 2.9.6 can crash (SIGSEGV/SIGABRT inside nghttp2) when a server's
 * GOAWAY reaches a live grpc-js connection (denoland/deno#36788).
 */
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type ClientOptions, RouterHostsClient } from "../../grpc/client.ts";
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { codeName, RouterHostsError } from "../../grpc/errors.ts";
import { loadTlsMaterial, TlsConfigError, type TlsMaterial } from "../../grpc/tls.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import {
  type CertFiles,
  dumpLogs,
  type HostsFileLine,
  makeCa,
  makeClientLeaf,
  type RouterHostsTestbed,
  startRouterHosts,
} from "../testbed/mod.ts";
import { waitForHostsFile } from "../testbed/observe.ts";

/** Deadline of every call in this file. */
const DEADLINE_MS = 2000;
/** A call that has not settled by then hangs: a guard, not a performance bound. */
const HANG_GUARD_MS = 10_000;
/** A well-formed ULID from 2016: the server mints ids from its clock, so it never issued this one. */
const NEVER_ISSUED_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

const SANITIZE = { sanitizeOps: false, sanitizeResources: false } as const;

/** Runs `fn`, which must reject with a RouterHostsError; returns it and how long the call took. */
async function failure(
  fn: () => Promise<unknown>,
): Promise<{ error: RouterHostsError; ms: number }> {
  const started = performance.now();
  const error = await assertRejects(fn, "the call succeeded");
  const ms = performance.now() - started;
  assertOk(error instanceof RouterHostsError, `not a RouterHostsError: ${error}`);
  return { error, ms };
}

/** Waits until the hosts file has exactly one line for `hostname`, and it is `expected`. */
async function expectHostsLine(
  rh: RouterHostsTestbed,
  hostname: string,
  expected: HostsFileLine,
): Promise<void> {
  await waitForHostsFile(rh, `one line for ${hostname}: ${JSON.stringify(expected)}`, (lines) => {
    const mine = lines.filter((l) => l.hostname === hostname);
    return mine.length === 1 && isDeepStrictEqual(mine[0], expected);
  });
}

/** What {@linkcode signLeafWithDates} makes. */
interface DatedLeaf {
  name: string;
  /** openssl extension lines (extendedKeyUsage, subjectAltName). */
  extensions: string[];
  /** YYYYMMDDHHMMSSZ */
  notBefore: string;
  /** YYYYMMDDHHMMSSZ */
  notAfter: string;
}

/**
 * A leaf signed by `ca` with the validity dates given. OpenSSL 3.0's `x509`
 * has no -not_before/-not_after and -days cannot be negative, so this signs
 * with `openssl ca`, whose -startdate/-enddate set both dates.
 */
async function signLeafWithDates(dir: string, ca: CertFiles, leaf: DatedLeaf): Promise<CertFiles> {
  const files = { certPath: join(dir, `${leaf.name}.crt`), keyPath: join(dir, `${leaf.name}.key`) };
  const csr = join(dir, `${leaf.name}.csr`);
  const cnf = join(dir, `${leaf.name}.cnf`);
  const index = join(dir, "index.txt");
  const serial = join(dir, "serial");
  await Deno.writeTextFile(index, "", { append: true });
  await Deno.writeTextFile(serial, "1000\n", { createNew: true }).catch(() => {});
  await Deno.writeTextFile(
    cnf,
    [
      "[ca]",
      "default_ca = dated_ca",
      "[dated_ca]",
      `database = ${index}`,
      `new_certs_dir = ${dir}`,
      `serial = ${serial}`,
      "default_md = sha256",
      "policy = any_cn",
      "unique_subject = no",
      "[any_cn]",
      "commonName = supplied",
      "[req]",
      "distinguished_name = dn",
      "[dn]",
      "[v3_leaf]",
      "basicConstraints = critical, CA:FALSE",
      "keyUsage = critical, digitalSignature",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid, issuer",
      ...leaf.extensions,
      "",
    ].join("\n"),
  );
  await openssl(
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", files.keyPath],
  );
  await openssl(
    [
      "req",
      "-new",
      "-key",
      files.keyPath,
      "-subj",
      `/CN=${leaf.name}`,
      "-config",
      cnf,
      "-out",
      csr,
    ],
  );
  await openssl([
    "ca",
    "-batch",
    "-notext",
    "-config",
    cnf,
    "-cert",
    ca.certPath,
    "-keyfile",
    ca.keyPath,
    "-in",
    csr,
    "-out",
    files.certPath,
    "-startdate",
    leaf.notBefore,
    "-enddate",
    leaf.notAfter,
    "-extensions",
    "v3_leaf",
    "-extfile",
    cnf,
  ]);
  return files;
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

Deno.test({
  name: "RouterHostsClient against router-hosts over mTLS",
  ...SANITIZE,
}, async (t) => {
  const rh = await startRouterHosts();
  const fileStarted = performance.now();
  const clients: RouterHostsClient[] = [];
  const material = (files: { ca?: string; cert?: string; key?: string } = {}) =>
    loadTlsMaterial({
      caPath: files.ca ?? rh.caPath,
      certPath: files.cert ?? rh.clientCertPath,
      keyPath: files.key ?? rh.clientKeyPath,
    });
  const connect = (tls: TlsMaterial, options: Partial<ClientOptions> = {}) => {
    const c = new RouterHostsClient({
      address: rh.address,
      tls,
      deadlineMs: DEADLINE_MS,
      ...options,
    });
    clients.push(c);
    return c;
  };
  // pki.ts names a CA's files <name>.crt and <name>.key side by side.
  const serverCa = { certPath: rh.caPath, keyPath: rh.caPath.replace(/\.crt$/, ".key") };
  let extraDir: string | undefined;
  const extraPki = async () =>
    extraDir ??= await Deno.makeTempDir({ dir: rh.dir, prefix: "extra-pki-" });
  const closeAll = () => {
    for (const c of clients.splice(0)) c.close();
  };
  const step = (name: string, fn: () => Promise<void>) =>
    t.step({
      name,
      ...SANITIZE,
      fn: async () => {
        try {
          await fn();
        } catch (e) {
          dumpLogs();
          throw e;
        }
      },
    });

  try {
    console.error(`[grpc_client_test] router-hosts kind: ${rh.kind}`);
    const operator = connect(await material());

    await step("add then get: the same entry, and the hosts-file line matches", async () => {
      const added = await operator.addHost({
        ipAddress: "192.168.40.10",
        hostname: "roundtrip.lan",
        comment: "k8s:default/roundtrip",
        tags: ["k8s", "test"],
        aliases: ["rt-a.lan", "rt-b.lan"],
      });
      assertMatch(added.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
      assertEquals(
        added,
        {
          id: added.id,
          ipAddress: "192.168.40.10",
          hostname: "roundtrip.lan",
          comment: "k8s:default/roundtrip",
          tags: ["k8s", "test"],
          aliases: ["rt-a.lan", "rt-b.lan"],
          version: "1",
        } satisfies HostEntry,
      );
      assertEquals(await operator.getHost(added.id), added);
      await expectHostsLine(rh, "roundtrip.lan", {
        ip: "192.168.40.10",
        hostname: "roundtrip.lan",
        aliases: ["rt-a.lan", "rt-b.lan"],
        comment: "k8s:default/roundtrip",
        tags: ["k8s", "test"],
      });

      // No comment: absent in the entry, absent in the file.
      const bare = await operator.addHost({ ipAddress: "192.168.40.11", hostname: "bare.lan" });
      assertEquals("comment" in bare, false, JSON.stringify(bare));
      assertEquals("comment" in await operator.getHost(bare.id), false);
      await expectHostsLine(rh, "bare.lan", {
        ip: "192.168.40.11",
        hostname: "bare.lan",
        aliases: [],
        tags: [],
      });
    });

    await step("a duplicate add is already-exists", async () => {
      const host = { ipAddress: "192.168.40.20", hostname: "dup.lan" };
      await operator.addHost(host);
      const { error } = await failure(() => operator.addHost(host));
      assertEquals([error.outcome, error.method], ["already-exists", "AddHost"]);
      assertMatch(error.message, /ALREADY_EXISTS: duplicate entry: 192\.168\.40\.20 -> dup\.lan/);
    });

    await step(
      "an id the server never issued is not-found; a malformed id is invalid",
      async () => {
        for (
          const call of [
            () => operator.getHost(NEVER_ISSUED_ID),
            () => operator.updateHost({ id: NEVER_ISSUED_ID, expectedVersion: "1", comment: "x" }),
            () => operator.deleteHost(NEVER_ISSUED_ID),
          ]
        ) {
          const { error } = await failure(call);
          assertEquals(error.outcome, "not-found", error.message);
          assertMatch(error.message, new RegExp(`NOT_FOUND: .*"${NEVER_ISSUED_ID}" not found`));
        }
        const { error } = await failure(() => operator.getHost("not-a-ulid"));
        assertEquals(error.outcome, "invalid", error.message);
      },
    );

    await step("a stale expected_version is conflict, on update and on delete", async () => {
      const v1 = await operator.addHost({ ipAddress: "192.168.40.30", hostname: "stale.lan" });
      const v2 = await operator.updateHost({
        id: v1.id,
        expectedVersion: v1.version,
        comment: "moved on",
      });
      assertOk(v2.version !== v1.version, "the update did not move the version");
      const update = await failure(() =>
        operator.updateHost({ id: v1.id, expectedVersion: v1.version, comment: "lost update" })
      );
      assertEquals(update.error.outcome, "conflict", update.error.message);
      assertMatch(update.error.message, /ABORTED: .*version conflict/);
      const del = await failure(() => operator.deleteHost(v1.id, v1.version));
      assertEquals(del.error.outcome, "conflict", del.error.message);
      assertEquals((await operator.getHost(v1.id)).comment, "moved on");
      await operator.deleteHost(v1.id, v2.version);
      assertEquals((await failure(() => operator.getHost(v1.id))).error.outcome, "not-found");
    });

    await step("findExact picks the exact entry among near matches", async () => {
      const exact = await operator.addHost({ ipAddress: "10.0.0.5", hostname: "nas.lan" });
      const near = [
        await operator.addHost({ ipAddress: "10.0.0.5", hostname: "nas.lan.example" }),
        await operator.addHost({ ipAddress: "10.0.0.50", hostname: "nas.lan" }),
        await operator.addHost({ ipAddress: "10.0.0.6", hostname: "nas.lan" }),
        await operator.addHost({ ipAddress: "10.0.0.7", hostname: "mynas.lan" }),
        await operator.addHost({
          ipAddress: "10.0.0.8",
          hostname: "other.lan",
          comment: "near nas.lan",
        }),
      ];
      // The server's search is loose: all of them contain "nas.lan" somewhere.
      const loose = await operator.searchHosts("nas.lan");
      for (const e of [exact, ...near]) {
        assertOk(loose.some((l) => l.id === e.id), `search did not return ${e.hostname}`);
      }
      assertEquals(await operator.findExact("10.0.0.5", "nas.lan"), [exact]);
      assertEquals(await operator.findExact("10.0.0.50", "nas.lan"), [near[1]]);
      assertEquals(await operator.findExact("10.0.0.5", "nas.lan.example"), [near[0]]);
      assertEquals(await operator.findExact("10.0.0.9", "nas.lan"), []);
      const all = await operator.listHosts();
      for (const e of [exact, ...near]) assertOk(all.some((l) => l.id === e.id), e.hostname);
    });

    await step(
      "update sends the version and clears aliases and tags with an empty wrapper",
      async () => {
        const before = await operator.addHost({
          ipAddress: "192.168.40.40",
          hostname: "clear.lan",
          comment: "keep me",
          tags: ["t1", "t2"],
          aliases: ["c-a.lan", "c-b.lan"],
        });
        const after = await operator.updateHost({
          id: before.id,
          expectedVersion: before.version,
          aliases: [],
          tags: [],
        });
        assertEquals(after, {
          ...before,
          tags: [],
          aliases: [],
          version: after.version,
        });
        assertOk(after.version !== before.version, "clearing did not move the version");
        assertEquals(await operator.getHost(before.id), after);
        await expectHostsLine(rh, "clear.lan", {
          ip: "192.168.40.40",
          hostname: "clear.lan",
          aliases: [],
          comment: "keep me",
          tags: [],
        });

        // Absent lists are kept: an update of the comment alone leaves them as they are.
        const withLists = await operator.updateHost({
          id: before.id,
          expectedVersion: after.version,
          aliases: ["c-c.lan"],
          tags: ["t3"],
        });
        const commentOnly = await operator.updateHost({
          id: before.id,
          expectedVersion: withLists.version,
          comment: "changed",
        });
        assertEquals([commentOnly.aliases, commentOnly.tags], [["c-c.lan"], ["t3"]]);
        await expectHostsLine(rh, "clear.lan", {
          ip: "192.168.40.40",
          hostname: "clear.lan",
          aliases: ["c-c.lan"],
          comment: "changed",
          tags: ["t3"],
        });
      },
    );

    await step(
      "dialing the IP literal 127.0.0.1:PORT works (IP SAN verified by the client)",
      async () => {
        const byIp = connect(await material(), { address: `127.0.0.1:${rh.port}` });
        assertEquals(await byIp.liveness(), true);
        const e = await byIp.addHost({ ipAddress: "192.168.40.50", hostname: "by-ip.lan" });
        assertEquals(await byIp.getHost(e.id), e);
      },
    );

    await step(
      "a client certificate from another CA: the message says the server rejected it",
      async () => {
        const foreign = connect(
          await material({ cert: rh.foreignClientCertPath, key: rh.foreignClientKeyPath }),
        );
        const { error, ms } = await failure(() => foreign.liveness());
        console.error(`[grpc_client_test] foreign client cert: ${error.message}`);
        assertEquals(error.outcome, "unavailable", error.message);
        assertOk(ms < HANG_GUARD_MS, `took ${ms} ms`);
        assertMatch(error.serverMessage, /^TLS: server rejected the client certificate/);
        assertMatch(error.message, /--tls-cert/);
        assertMatch(
          error.message,
          /issued by "CN=testbed-foreign-ca", which is not the CA in --tls-ca/,
        );
      },
    );

    await step(
      "a wrong --tls-ca: the message says unknown authority and names --tls-ca",
      async () => {
        const wrongCa = connect(await material({ ca: rh.foreignCaPath }));
        const { error } = await failure(() => wrongCa.liveness());
        console.error(`[grpc_client_test] wrong --tls-ca: ${error.message}`);
        assertEquals(error.outcome, "unavailable", error.message);
        assertMatch(
          error.serverMessage,
          /^TLS: server certificate signed by unknown authority \(issuer "CN=testbed-router-hosts-ca" is not in --tls-ca\) — check --tls-ca/,
        );
      },
    );

    await step(
      "an expired client certificate: the message says it expired and names --tls-cert",
      async () => {
        const expired = await signLeafWithDates(await extraPki(), serverCa, {
          name: "expired-client",
          extensions: ["extendedKeyUsage = clientAuth"],
          notBefore: "20200101000000Z",
          notAfter: "20200201000000Z",
        });
        const tls = await material({ cert: expired.certPath, key: expired.keyPath });
        assertEquals(tls.certNotAfter?.toISOString(), "2020-02-01T00:00:00.000Z");
        const { error } = await failure(() => connect(tls).liveness());
        console.error(`[grpc_client_test] expired client cert: ${error.message}`);
        assertEquals(error.outcome, "unavailable", error.message);
        assertMatch(
          error.serverMessage,
          /^TLS: server rejected the client certificate: it expired on 2020-02-01T00:00:00\.000Z — renew --tls-cert/,
        );
      },
    );

    await step(
      "a frozen server (SIGSTOP): the deadline ends the call as unavailable; then it recovers",
      async () => {
        assertEquals(await operator.liveness(), true);
        const fresh = connect(await material());
        rh.pause();
        try {
          // One call on a live connection, one that must first connect.
          const [live, connecting] = await Promise.all([
            failure(() => operator.liveness()),
            failure(() => fresh.liveness()),
          ]);
          for (const { error, ms } of [live, connecting]) {
            console.error(
              `[grpc_client_test] paused server (${Math.round(ms)} ms): ${error.message}`,
            );
            assertEquals(error.outcome, "unavailable", error.message);
            assertEquals(codeName(error.code), "DEADLINE_EXCEEDED", error.message);
            assertOk(ms >= DEADLINE_MS * 0.9, `ended after ${ms} ms, before the deadline`);
            assertOk(ms < HANG_GUARD_MS, `took ${ms} ms: the deadline did not end the call`);
          }
        } finally {
          rh.resume();
        }
        assertEquals(await operator.liveness(), true);
        assertEquals(await fresh.liveness(), true);
      },
    );

    await step(
      "a stopped server: calls fail as unavailable within the deadline, and recover on restart",
      async () => {
        closeAll();
        await rh.stop();
        const down = connect(await material());
        const { error, ms } = await failure(() => down.getHost(NEVER_ISSUED_ID));
        console.error(`[grpc_client_test] stopped server (${Math.round(ms)} ms): ${error.message}`);
        assertEquals(error.outcome, "unavailable", error.message);
        assertOk(ms < HANG_GUARD_MS, `took ${ms} ms`);
        assertMatch(
          error.serverMessage,
          /^connection refused — is router-hosts running at --server-address\?/,
        );

        await rh.start();
        const deadline = Date.now() + 15_000;
        for (;;) {
          try {
            assertEquals(await down.liveness(), true);
            break;
          } catch (e) {
            if (Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        // Data survived the restart.
        await waitForHostsFile(
          rh,
          "roundtrip.lan at 192.168.40.10",
          (lines) => lines.some((l) => l.hostname === "roundtrip.lan" && l.ip === "192.168.40.10"),
        );
      },
    );

    await step(
      "a server certificate without our name, or expired: the message names the cause",
      async () => {
        const config = await Deno.readTextFile(rh.configPath);
        const tomlPath = (key: string): string =>
          JSON.parse(new RegExp(`^${key} = (".*")$`, "m").exec(config)![1]);
        const serving = { certPath: tomlPath("cert_path"), keyPath: tomlPath("key_path") };
        const cases: [DatedLeaf, RegExp][] = [
          [
            {
              name: "server-other-name",
              extensions: [
                "extendedKeyUsage = serverAuth",
                "subjectAltName = DNS:elsewhere.example",
              ],
              notBefore: "20200101000000Z",
              notAfter: "20991231000000Z",
            },
            /^TLS: server certificate does not name localhost \(it names DNS:elsewhere\.example\) — dial a name from the certificate in --server-address/,
          ],
          [
            {
              name: "server-expired",
              extensions: [
                "extendedKeyUsage = serverAuth",
                "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1",
              ],
              notBefore: "20200101000000Z",
              notAfter: "20200201000000Z",
            },
            /^TLS: server certificate expired on 2020-02-01T00:00:00\.000Z — renew the router-hosts server certificate/,
          ],
        ];
        for (const [leaf, expected] of cases) {
          const made = await signLeafWithDates(await extraPki(), serverCa, leaf);
          closeAll();
          await rh.stop();
          await Deno.copyFile(made.certPath, serving.certPath);
          await Deno.copyFile(made.keyPath, serving.keyPath);
          await rh.start();
          const { error } = await failure(async () => await connect(await material()).liveness());
          console.error(`[grpc_client_test] ${leaf.name}: ${error.message}`);
          assertEquals(error.outcome, "unavailable", error.message);
          assertMatch(error.serverMessage, expected);
          if (leaf.name === "server-other-name") {
            // The client checks the IP SAN itself when it dials an IP literal.
            const byIp = connect(await material(), { address: `127.0.0.1:${rh.port}` });
            const ip = await failure(() => byIp.liveness());
            console.error(`[grpc_client_test] ${leaf.name} by IP: ${ip.error.message}`);
            assertMatch(
              ip.error.serverMessage,
              /^TLS: server certificate does not name 127\.0\.0\.1/,
            );
          }
        }
      },
    );
  } finally {
    closeAll();
    await rh.dispose();
    console.error(
      `[grpc_client_test] server-backed steps took ${
        Math.round(performance.now() - fileStarted)
      } ms`,
    );
  }
});

Deno.test("loadTlsMaterial names the flag and the file of a bad TLS file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grpc-client-tls-" });
  try {
    const ca = await makeCa(dir, { name: "ca" });
    const client = await makeClientLeaf(dir, ca, { name: "client", commonName: "operator" });
    const other = await makeClientLeaf(dir, ca, { name: "other", commonName: "other" });
    const notPem = join(dir, "notes.txt");
    await Deno.writeTextFile(notPem, "this is not a certificate\n");
    const brokenPem = join(dir, "broken.crt");
    await Deno.writeTextFile(
      brokenPem,
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    const good = { caPath: ca.certPath, certPath: client.certPath, keyPath: client.keyPath };
    assertOk((await loadTlsMaterial(good)).certFingerprint);

    const cases: [string, Parameters<typeof loadTlsMaterial>[0], string, RegExp][] = [
      [
        "missing CA",
        { ...good, caPath: join(dir, "missing.crt") },
        "--tls-ca",
        /^--tls-ca \S+missing\.crt: cannot read: file not found$/,
      ],
      ["cert not PEM", { ...good, certPath: notPem }, "--tls-cert", /notes\.txt: not a PEM file/],
      ["key not PEM", { ...good, keyPath: notPem }, "--tls-key", /notes\.txt: not a PEM file/],
      [
        "cert PEM but not a certificate",
        { ...good, certPath: brokenPem },
        "--tls-cert",
        /broken\.crt: not a valid PEM certificate/,
      ],
      [
        "key of another certificate",
        { ...good, keyPath: other.keyPath },
        "--tls-key",
        /other\.key: private key does not match the certificate in \S+client\.crt$/,
      ],
      [
        "two bad files: the first in flag order",
        { ...good, certPath: join(dir, "gone.crt"), keyPath: join(dir, "gone.key") },
        "--tls-cert",
        /gone\.crt: cannot read: file not found/,
      ],
    ];
    for (const [what, files, flag, message] of cases) {
      const error = await assertRejects(() => loadTlsMaterial(files), what);
      assertOk(error instanceof TlsConfigError, `${what}: ${error}`);
      assertEquals(error.flag, flag, what);
      assertMatch(error.message, message, what);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
