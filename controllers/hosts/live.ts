/**
 * Live repair: what a change seen on router-hosts' WatchHosts stream
 * (grpc/watch_hosts.ts) wakes. An entry that changed or vanished wakes the
 * objects that track its id (host-ids annotation, HostMapping status.hostId);
 * a hostname that was let go (entry deleted or renamed) wakes the conflict
 * waiters of that name, of any controller. They go through the existing
 * queues, so a woken object reconciles like on any other change: it reads
 * its entries and writes only when they drifted.
 *
 * Also here: the hosts port that tells the watch about our own writes, so
 * they do not wake us again, and the leader-only runnable that keeps the
 * stream open.
 *
 * @module
 */
import type { EntryChange, HostsWatch } from "../../grpc/watch_hosts.ts";
import { KeyIndex } from "../../k8s/key_index.ts";
import type { Runnable, Unit } from "../../k8s/manager.ts";
import type { SourceHostsApi } from "../engine/source.ts";
import type { ConflictBoard } from "./policy.ts";

/** Why the stream woke someone: a tracked entry edited or deleted, or a hostname released. */
export type RepairCause = "edited" | "deleted" | "released";

/** Maps entry changes to the queue keys that care; see the module documentation. */
export class EntryWakeups {
  readonly #board: ConflictBoard;
  readonly #onWake?: (cause: RepairCause) => void;
  /** "controller\0key" → the entry ids it tracks. */
  readonly #index = new KeyIndex();
  readonly #wakes = new Map<string, (key: string) => void>();

  constructor(board: ConflictBoard, onWake?: (cause: RepairCause) => void) {
    this.#board = board;
    this.#onWake = onWake;
  }

  /** How `controller` queues one of its keys. */
  register(controller: string, wake: (key: string) => void): void {
    this.#wakes.set(controller, wake);
  }

  /** `key` of `controller` now tracks exactly `ids` (none: forget it). */
  track(controller: string, key: string, ids: readonly string[]): void {
    this.#index.set(`${controller}\0${key}`, ids);
  }

  /** Wakes whoever cares about `changes`. */
  changed(changes: readonly EntryChange[]): void {
    for (const c of changes) {
      this.#wakeTrackers(c.id, c.kind === "vanished" ? "deleted" : "edited");
      const released = c.kind === "vanished" ? c.hostname : c.previousHostname;
      if (released !== undefined && this.#board.release(released) > 0) {
        this.#onWake?.("released");
      }
    }
  }

  #wakeTrackers(id: string, cause: RepairCause): void {
    const trackers = this.#index.sourcesOf(id);
    for (const tracker of trackers) {
      const sep = tracker.indexOf("\0");
      this.#wakes.get(tracker.slice(0, sep))?.(tracker.slice(sep + 1));
    }
    if (trackers.length > 0) this.#onWake?.(cause);
  }
}

/** The hosts port that tells `watch` what our writes produced (reads pass through). */
export function notingWrites(
  api: SourceHostsApi,
  watch: Pick<HostsWatch, "noteWrite" | "noteDelete">,
): SourceHostsApi {
  return {
    address: api.address,
    getHost: (id) => api.getHost(id),
    searchHosts: (query) => api.searchHosts(query),
    findExact: (ip, hostname) => api.findExact(ip, hostname),
    async addHost(host) {
      const entry = await api.addHost(host);
      watch.noteWrite(entry);
      return entry;
    },
    async updateHost(update) {
      const entry = await api.updateHost(update);
      watch.noteWrite(entry);
      return entry;
    },
    async deleteHost(id, expectedVersion) {
      await api.deleteHost(id, expectedVersion);
      watch.noteDelete(id);
    },
  };
}

/** The stream as a leader-only unit of the manager: open while leading, closed on stop. */
export function watchUnit(watch: Pick<HostsWatch, "run">): Unit {
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  const runnable: Runnable = {
    start: () => running ??= watch.run(stop.signal),
    stop: async () => {
      stop.abort();
      await running;
      return true;
    },
  };
  return { informers: [], controller: runnable };
}
