/**
 * Bad input at startup stops the real process with exit status 2 and one
 * line naming the problem and the flag — nothing else is printed to stderr.
 */
import { join } from "node:path";
import { assertEquals, assertMatch } from "../assert.ts";
import { makeCa, makeClientLeaf } from "../testbed/mod.ts";
import { runOperator } from "../testbed/operator.ts";

Deno.test("startup errors: exit 2 with one line naming the flag", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "startup-" });
  try {
    const ca = await makeCa(dir, { name: "ca" });
    const leaf = await makeClientLeaf(dir, ca, { name: "client", commonName: "operator" });
    const other = await makeClientLeaf(dir, await makeCa(dir, { name: "ca2" }), {
      name: "other",
      commonName: "other",
    });
    const garbage = join(dir, "garbage.pem");
    await Deno.writeTextFile(garbage, "this is not PEM\n");
    const tls = [
      `--tls-ca=${ca.certPath}`,
      `--tls-cert=${leaf.certPath}`,
      `--tls-key=${leaf.keyPath}`,
    ];

    const cases: [string, string[], RegExp, Record<string, string>?][] = [
      ["unknown flag", ["--bogus=1"], /unknown flag --bogus/],
      ["bad value", [...tls, "--max-concurrent-reconciles=zero"], /--max-concurrent-reconciles/],
      ["bad address", [...tls, "--server-address=no-port"], /--server-address: want host:port/],
      [
        "a client certificate without its key",
        [`--tls-ca=${ca.certPath}`, `--tls-cert=${leaf.certPath}`],
        /--tls-cert needs --tls-key/,
      ],
      ["no TLS and no --insecure", [], /TLS needs --tls-ca .* or --insecure/],
      ["unknown target scheme", [...tls, "--server-address=xds:///r"], /unsupported target scheme/],
      [
        "a unix socket the process may not open",
        ["--insecure", "--server-address=unix:///tmp/router-hosts.sock"],
        /--server-address unix:\/\/\/tmp\/router-hosts.sock: .*needs write permission.*\/run or \/var\/run/,
      ],
      [
        "unreadable SSL_CERT_FILE without --tls-ca",
        [`--tls-cert=${leaf.certPath}`, `--tls-key=${leaf.keyPath}`],
        /SSL_CERT_FILE \/nonexistent\/roots.pem: cannot read: file not found/,
        { SSL_CERT_FILE: "/nonexistent/roots.pem" },
      ],
      [
        "unreadable PEM",
        [...tls, "--tls-ca=/nonexistent/ca.crt"],
        /--tls-ca \/nonexistent\/ca.crt: cannot read: file not found/,
      ],
      ["not a PEM file", [
        `--tls-ca=${garbage}`,
        `--tls-cert=${leaf.certPath}`,
        `--tls-key=${leaf.keyPath}`,
      ], /--tls-ca .*garbage.pem: not a PEM file/],
      ["key of another certificate", [
        `--tls-ca=${ca.certPath}`,
        `--tls-cert=${leaf.certPath}`,
        `--tls-key=${other.keyPath}`,
      ], /--tls-key .*: private key does not match the certificate/],
      ["no kubeconfig", [...tls], /kubeconfig: .*\/nonexistent\/kubeconfig/],
      [
        "a webhook bound beyond loopback without the acknowledging flag",
        [...tls, "--controllers=false", "--webhook-bind-address=0.0.0.0:18888"],
        /--webhook-bind-address=0\.0\.0\.0:18888 is not a loopback address: the webhook API has no authentication, so anyone who reaches this port can create and delete hosts entries.*--webhook-allow-network-bind/,
      ],
    ];
    for (const [name, args, pattern, env] of cases) {
      await t.step(name, async () => {
        const r = await runOperator(args, 30_000, env);
        assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
        const lines = r.stderr.trimEnd().split("\n");
        assertEquals(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
        assertMatch(lines[0], /^router-hosts-operator: /);
        assertMatch(lines[0], pattern);
      });
    }

    await t.step("--help prints every flag and exits 0", async () => {
      const r = await runOperator(["--help"]);
      assertEquals(r.code, 0);
      for (
        const flag of ["--server-address", "--tls-ca", "--leader-elect", "--default-ingress-ip"]
      ) {
        assertMatch(r.stdout, new RegExp(flag));
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
