/**
 * Client certificate rotation end to end: the operator's mTLS identity lives
 * in a directory laid out the way kubelet mounts a Secret, and is rotated
 * the way kubelet does it (a new timestamped directory, then a `..data_tmp`
 * symlink renamed over `..data`). The operator picks the new identity up
 * without a restart; a rotation to a broken pair is refused and the old
 * identity keeps working.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { makeClientLeaf, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { withBed, withOperator } from "../testbed/bed.ts";

/** The files of a kubernetes.io/tls Secret with a ca.crt key. */
interface SecretFiles {
  "tls.crt": string;
  "tls.key": string;
  "ca.crt": string;
}

/**
 * A Secret volume as kubelet's AtomicWriter maintains it: the data in a
 * timestamped directory, `..data` pointing at it, and each key a symlink
 * through `..data`.
 */
class SecretVolume {
  #current?: string;
  #serial = 0;

  constructor(readonly dir: string) {}

  path(key: keyof SecretFiles): string {
    return join(this.dir, key);
  }

  /** Writes a new version and swaps it in atomically; the old version is removed. */
  async write(files: SecretFiles): Promise<void> {
    const stamp = `..${new Date().toISOString().replace(/[-:T.Z]/g, "_")}${this.#serial++}`;
    await Deno.mkdir(join(this.dir, stamp), { mode: 0o755 });
    for (const [key, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(this.dir, stamp, key), text, { mode: 0o644 });
    }
    await Deno.symlink(stamp, join(this.dir, "..data_tmp"));
    await Deno.rename(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    for (const key of Object.keys(files)) {
      try {
        await Deno.lstat(join(this.dir, key));
      } catch {
        await Deno.symlink(join("..data", key), join(this.dir, key));
      }
    }
    if (this.#current) await Deno.remove(join(this.dir, this.#current), { recursive: true });
    this.#current = stamp;
  }
}

function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

Deno.test({
  name: "client certificate rotation through a kubelet-style Secret volume",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const work = await Deno.makeTempDir({ prefix: "rotation-" });
  try {
    await withBed({}, async (bed) => {
      const { kube, hm, rh } = bed;
      const read = (path: string) => Deno.readTextFile(path);
      const ca = { certPath: rh.caPath, keyPath: rh.caKeyPath };
      const [second, third] = await Promise.all([
        makeClientLeaf(work, ca, { name: "second", commonName: "router-hosts-operator" }),
        makeClientLeaf(work, ca, { name: "third", commonName: "router-hosts-operator" }),
      ]);
      const caPem = await read(rh.caPath);
      const identity = async (certPath: string, keyPath: string): Promise<SecretFiles> => ({
        "tls.crt": await read(certPath),
        "tls.key": await read(keyPath),
        "ca.crt": caPem,
      });
      const volume = new SecretVolume(await Deno.makeTempDir({ dir: work, prefix: "secret-" }));
      const first = await identity(rh.clientCertPath, rh.clientKeyPath);
      await volume.write(first);

      const args = [
        `--tls-ca=${volume.path("ca.crt")}`,
        `--tls-cert=${volume.path("tls.crt")}`,
        `--tls-key=${volume.path("tls.key")}`,
      ];
      await withOperator(bed, { args }, async (op) => {
        const ns = await kube.createNamespace(uniqueName("rotation"));
        const rotations = () =>
          op.logs().filter((l) => l.msg === "client certificate rotated; new connections use it");
        /** Swaps `files` in and waits for the operator to log that it uses them; returns the seconds it took. */
        const rotate = async (files: SecretFiles): Promise<number> => {
          const before = rotations().length;
          const started = performance.now();
          await volume.write(files);
          const line = await eventually("the rotation logged", () => rotations()[before], 10_000);
          assertEquals(line.certFingerprint, fingerprint(files["tls.crt"]));
          assertEquals(rotations().length, before + 1, "one rotation per swap");
          return (performance.now() - started) / 1000;
        };

        await t.step("the identity from the volume syncs a HostMapping", async () => {
          const start = op.logs().find((l) => l.msg === "starting router-hosts-operator");
          assertEquals(
            (start?.tls as { certFingerprint?: string })?.certFingerprint,
            fingerprint(first["tls.crt"]),
          );
          await hm.create(ns, "before", { hostname: "before.rot.lan", ip: "10.9.0.1" });
          await hm.waitSynced(ns, "before");
        });

        await t.step(
          "kubelet-style swap to a new certificate → rotated, new calls work",
          async () => {
            const seconds = await rotate(await identity(second.certPath, second.keyPath));
            console.log(`rotation noticed ${seconds.toFixed(1)} s after the ..data swap`);
            const line = rotations().at(-1)!;
            assertEquals(line.trigger, "file change", "noticed by the watch, not the 30 s poll");
            await hm.create(ns, "after", { hostname: "after.rot.lan", ip: "10.9.0.2" });
            await hm.waitSynced(ns, "after");
            assertEquals(op.process.exited, false);
          },
        );

        await t.step(
          "new connections use the rotated identity: one the server distrusts fails, a good one recovers",
          async () => {
            // A well-formed pair from a CA router-hosts does not trust: if calls
            // still worked after this, the old identity would still be in use.
            await rotate(await identity(rh.foreignClientCertPath, rh.foreignClientKeyPath));
            await hm.create(ns, "untrusted", { hostname: "untrusted.rot.lan", ip: "10.9.0.3" });
            const failed = await hm.waitFor(
              ns,
              "untrusted",
              "phase Error",
              (x) => x.status?.phase === "Error",
            );
            assertMatch(failed.status!.message!, /client certificate/);
            await rotate(await identity(third.certPath, third.keyPath));
            // The failed object is retried with backoff; a change reconciles it at once.
            await hm.patch(ns, "untrusted", { metadata: { annotations: { touch: "1" } } });
            await hm.waitSynced(ns, "untrusted");
          },
        );

        await t.step(
          "a swap to a broken pair is refused and the old identity keeps working",
          async () => {
            const errorsBefore = op.logs().filter((l) => l.level === "error").length;
            const rotationsBefore = rotations().length;
            // The third certificate with the second's key: they do not belong together.
            await volume.write(await identity(third.certPath, second.keyPath));
            const refused = await eventually(
              "the broken pair logged",
              () =>
                op.logs().find((l) =>
                  l.msg ===
                    "TLS files changed but cannot be used; keeping the current client certificate"
                ),
              10_000,
            );
            assertMatch(String(refused.error), /--tls-key/);
            assertMatch(String(refused.error), /does not match/);
            assertEquals(refused.level, "error");
            assertOk(op.logs().filter((l) => l.level === "error").length > errorsBefore);
            assertEquals(rotations().length, rotationsBefore, "no rotation to the broken pair");
            await hm.create(ns, "kept", { hostname: "kept.rot.lan", ip: "10.9.0.4" });
            await hm.waitSynced(ns, "kept");
            // Repairing the volume rotates again.
            await rotate(await identity(second.certPath, second.keyPath));
            await hm.create(ns, "repaired", { hostname: "repaired.rot.lan", ip: "10.9.0.5" });
            await hm.waitSynced(ns, "repaired");
          },
        );

        await t.step("no key material in the log", () => {
          const raw = Deno.readTextFileSync(op.logPath);
          assertEquals(raw.includes("PRIVATE KEY"), false);
          assertEquals(raw.includes("BEGIN CERTIFICATE"), false);
        });
      });
    });
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
});
