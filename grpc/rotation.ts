/**
 * Certificate rotation: when the mounted TLS files change (kubelet updates a
 * Secret volume by swapping its `..data` symlink), the new roots and identity
 * (whichever the TLS mode uses) are read,
 * checked and handed to the client; new connections use it, no restart. A
 * rotation to a broken pair is logged and the old identity kept.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import type { Logger } from "../observability/log.ts";
import { loadTlsMaterial, type TlsFiles, type TlsMaterial } from "./tls.ts";

/** Debounce: kubelet changes several files in quick succession. */
const SETTLE_MS = 500;
/** Also compare contents this often, for filesystems without change events. */
const POLL_MS = 30_000;

/** Watches `files` until `signal` aborts; calls `apply` with each new valid identity. */
export async function watchTlsFiles(options: {
  files: TlsFiles;
  current: TlsMaterial;
  apply: (material: TlsMaterial) => void;
  log: Logger;
  signal: AbortSignal;
  pollMs?: number;
}): Promise<void> {
  const { files, log, signal } = options;
  let fingerprint = sameness(options.current);
  let timer: ReturnType<typeof setTimeout> | undefined;

  const check = async (why: string) => {
    let material: TlsMaterial;
    try {
      material = await loadTlsMaterial(files);
    } catch (e) {
      log.error("TLS files changed but cannot be used; keeping the current client certificate", {
        error: e,
        trigger: why,
      });
      return;
    }
    const next = sameness(material);
    if (next === fingerprint) return;
    fingerprint = next;
    options.apply(material);
    log.info(
      material.cert
        ? "client certificate rotated; new connections use it"
        : "TLS roots changed; new connections use them",
      {
        certFingerprint: material.certFingerprint,
        notAfter: material.certNotAfter,
        trigger: why,
      },
    );
  };
  const schedule = (why: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => check(why), SETTLE_MS);
  };

  const poll = setInterval(() => schedule("poll"), options.pollMs ?? POLL_MS);
  const watched = [files.caPath, files.certPath, files.keyPath, files.systemRoots?.file]
    .filter((p): p is string => p !== undefined);
  const dirs = [...new Set(watched.map((p) => dirname(p)))];
  let watcher: Deno.FsWatcher | undefined;
  try {
    watcher = Deno.watchFs(dirs, { recursive: false });
  } catch (e) {
    log.warn("cannot watch the TLS files; checking them every 30 s instead", { error: e });
  }
  const stop = () => {
    clearInterval(poll);
    clearTimeout(timer);
    watcher?.close();
  };
  if (signal.aborted) return stop();
  signal.addEventListener("abort", stop, { once: true });
  if (!watcher) return;
  try {
    for await (const _event of watcher) schedule("file change");
  } catch (e) {
    if (!signal.aborted) log.warn("TLS file watch ended; polling continues", { error: e });
  }
}

/** Identity of the material: a hash of the three files' contents. */
function sameness(m: TlsMaterial): string {
  const hash = createHash("sha256").update(m.ca);
  if (m.cert) hash.update(m.cert);
  if (m.key) hash.update(m.key);
  return hash.digest("hex");
}
