/**
 * Deletion under `--policy=upsert-only` or the `on-delete: retain`
 * annotation, for every controller: the object's entries stay on
 * router-hosts and are tagged `retained`, so the orphan sweep leaves them
 * and an object of the same name adopts them again. Best effort: a failure
 * is logged and never holds the object's finalizer.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../../grpc/hosts_port.ts";
import type { Logger } from "../../observability/log.ts";
import { RETAINED_TAG } from "./policy.ts";
import { forEachLimit } from "./sync.ts";

/**
 * Tags each of `entries` (by id) that `owns` accepts `retained`, at most
 * `concurrency` at once; returns how many are ours and kept.
 */
export async function retainEntries(
  hosts: HostsPort,
  entries: readonly { hostname: string; id: string }[],
  owns: (entry: HostEntry) => boolean,
  log: Logger,
  concurrency: number,
): Promise<number> {
  let kept = 0;
  await forEachLimit(entries, concurrency, undefined, async (t) => {
    try {
      const entry = await hosts.getHost(t.id);
      if (!owns(entry)) return;
      kept++;
      if (entry.tags.includes(RETAINED_TAG)) return;
      await hosts.updateHost({
        id: entry.id,
        expectedVersion: entry.version,
        tags: [...entry.tags, RETAINED_TAG],
      });
    } catch (e) {
      log.warn("could not tag a retained entry; the orphan sweep may delete it", {
        hostname: t.hostname,
        hostId: t.id,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  });
  return kept;
}
