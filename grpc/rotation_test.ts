import { join } from "node:path";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { makeCa, makeClientLeaf } from "../tests/testbed/pki.ts";
import { Logger } from "../observability/log.ts";
import { watchTlsFiles } from "./rotation.ts";
import { loadTlsMaterial, type TlsFiles, type TlsMaterial } from "./tls.ts";

/** Runs the watcher on `files` until the first rotation after `change()`; returns it. */
async function rotation(files: TlsFiles, change: () => Promise<void>): Promise<TlsMaterial> {
  const stop = new AbortController();
  const current = await loadTlsMaterial(files);
  const applied = Promise.withResolvers<TlsMaterial>();
  const watching = watchTlsFiles({
    files,
    current,
    apply: applied.resolve,
    log: new Logger({ sink: () => {} }),
    signal: stop.signal,
    // Longer than the 500 ms settle time, which every trigger restarts.
    pollMs: 1_000,
  });
  try {
    await change();
    return await applied.promise;
  } finally {
    stop.abort();
    await watching;
  }
}

Deno.test("rotation with --tls-ca alone: a new CA file is picked up", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await makeCa(dir, { name: "a" });
    const b = await makeCa(dir, { name: "b" });
    const caPath = join(dir, "ca.crt");
    await Deno.copyFile(a.certPath, caPath);
    const next = await rotation({ caPath }, () => Deno.copyFile(b.certPath, caPath));
    assertEquals(next.ca.toString(), await Deno.readTextFile(b.certPath));
    assertEquals([next.caSource, next.cert, next.key], ["--tls-ca", undefined, undefined]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rotation with --tls-cert/--tls-key and system roots: the new pair is picked up", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ca = await makeCa(dir, { name: "ca" });
    const one = await makeClientLeaf(dir, ca, { name: "one", commonName: "one" });
    const two = await makeClientLeaf(dir, ca, { name: "two", commonName: "two" });
    const certPath = join(dir, "tls.crt"), keyPath = join(dir, "tls.key");
    await Deno.copyFile(one.certPath, certPath);
    await Deno.copyFile(one.keyPath, keyPath);
    const files = { certPath, keyPath, systemRoots: { file: ca.certPath } };
    const before = await loadTlsMaterial(files);
    const next = await rotation(files, async () => {
      await Deno.copyFile(two.keyPath, keyPath);
      await Deno.copyFile(two.certPath, certPath);
    });
    assertOk(next.certFingerprint && next.certFingerprint !== before.certFingerprint);
    assertEquals(next.caSource, `the system roots (${ca.certPath})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
