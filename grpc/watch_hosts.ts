/**
 * The WatchHosts follow stream: what changed on router-hosts, live.
 *
 * The server sends a full snapshot on connect and a fresh one after every
 * change (bursts coalesced), each ended by a SnapshotComplete. Each snapshot
 * is diffed against the previous one by id → version (hostname kept for the
 * conflict waiters of a name); whole entries are never kept. The changes our
 * own writes made are recognised ({@link HostsWatch.noteWrite}) and not
 * reported, so the operator's writes do not wake it again.
 *
 * The stream reconnects with backoff; the first snapshot after a reconnect is
 * diffed like any other, so nothing that changed meanwhile is missed. A
 * server without WatchHosts (UNIMPLEMENTED), or a stream that keeps failing,
 * puts the watch in fallback: one log line, a gauge, and quiet retries (every
 * few minutes for UNIMPLEMENTED, at the backoff's pace otherwise). Nothing depends on the stream for correctness: the periodic
 * resync still re-checks every object (README "Live repair",
 * docs/adr/0015-live-repair-from-watchhosts.md).
 *
 * @module
 */
import { Backoff, type BackoffOptions } from "../k8s/backoff.ts";
import { type Clock, realClock, sleep } from "../k8s/clock.ts";
import type { Logger } from "../observability/log.ts";
import type { WatchHostsMessage } from "../proto/hosts_codec.ts";
import type { RouterHostsError } from "./errors.ts";
import { WATCH_ROTATED } from "./client.ts";

/** gRPC UNIMPLEMENTED: the server has no WatchHosts. */
const UNIMPLEMENTED = 12;

/** An entry that appeared, changed or vanished between two snapshots, not by our writes. */
export interface EntryChange {
  kind: "appeared" | "changed" | "vanished";
  id: string;
  /** Its hostname now (the last one seen, when it vanished). */
  hostname: string;
  /** Its hostname before, when a change renamed it. */
  previousHostname?: string;
}

/** What opens a stream: the router-hosts client. */
export interface WatchHostsSource {
  watchHosts(handlers: {
    message(msg: WatchHostsMessage): void;
    end(error: RouterHostsError | undefined): void;
  }): { cancel(): void };
}

/** What the watch reports for metrics. */
export interface WatchObserver {
  connected(on: boolean): void;
  /** A snapshot was received and diffed; `entries` is its size. */
  snapshot(entries: number): void;
  fallback(on: boolean): void;
}

/** Options of {@link HostsWatch}. */
export interface HostsWatchOptions {
  source: WatchHostsSource;
  /** Called once per snapshot with what changed since the previous one (never empty). */
  onChanges: (changes: EntryChange[]) => void;
  log: Logger;
  observer?: WatchObserver;
  /** Between reconnects (default 1 s doubling to 30 s). */
  backoff?: BackoffOptions;
  /** Consecutive attempts without a snapshot before the fallback (default 5). */
  failuresBeforeFallback?: number;
  /** How often a server without WatchHosts is asked again, quietly (default 5 min). */
  fallbackRetryMs?: number;
  /** A snapshot larger than this is refused (default 200,000 entries). */
  maxEntries?: number;
  clock?: Clock;
}

/** A snapshot larger than `maxEntries`: refused, and asked for again as rarely as UNIMPLEMENTED. */
class TooLarge extends Error {
  constructor(max: number) {
    super(`a WatchHosts snapshot has more than ${max} entries; refused`);
  }
}

/** version + NUL + hostname: one string per entry, no object. */
type Known = Map<string, string>;

const SEP = "\0";
const hostnameOf = (value: string) => value.slice(value.indexOf(SEP) + 1);

/**
 * The changes from `before` to `after`, leaving out those `own` explains
 * (an id whose value is the one our write produced, or null for our delete).
 */
export function diffSnapshots(
  before: Known,
  after: Known,
  own: Map<string, string | null> = new Map(),
): EntryChange[] {
  const changes: EntryChange[] = [];
  for (const [id, value] of after) {
    const old = before.get(id);
    if (old === value) continue;
    if (own.get(id) === value) continue;
    const hostname = hostnameOf(value);
    if (old === undefined) {
      changes.push({ kind: "appeared", id, hostname });
      continue;
    }
    const previous = hostnameOf(old);
    changes.push(
      previous === hostname
        ? { kind: "changed", id, hostname }
        : { kind: "changed", id, hostname, previousHostname: previous },
    );
  }
  for (const [id, old] of before) {
    if (after.has(id) || own.get(id) === null) continue;
    changes.push({ kind: "vanished", id, hostname: hostnameOf(old) });
  }
  return changes;
}

/** One follow stream, kept open; see the module documentation. */
export class HostsWatch {
  readonly #o: HostsWatchOptions;
  readonly #clock: Clock;
  /** The last snapshot; undefined until the first arrives. */
  #known: Known | undefined;
  /** Our recent writes: id → value written, null for a delete; with the snapshot count then. */
  readonly #own = new Map<string, { value: string | null; at: number }>();
  #snapshots = 0;
  /** True while changes are found by the resync only. */
  #fallback = false;

  constructor(options: HostsWatchOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
  }

  /** Snapshots received and diffed since start. */
  get snapshots(): number {
    return this.#snapshots;
  }

  /** Our write produced this entry: its next appearance in a snapshot is not a change. */
  noteWrite(entry: { id: string; version: string; hostname: string }): void {
    this.#own.set(entry.id, { value: entry.version + SEP + entry.hostname, at: this.#snapshots });
  }

  /** We deleted this entry: its vanishing is not a change. */
  noteDelete(id: string): void {
    this.#own.set(id, { value: null, at: this.#snapshots });
  }

  /** Keeps the stream open until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const backoff = new Backoff({
      initialMs: 1_000,
      maxMs: 30_000,
      clock: this.#clock,
      ...o.backoff,
    });
    const limit = o.failuresBeforeFallback ?? 5;
    let failures = 0;
    while (!signal.aborted) {
      const before = this.#snapshots;
      const error = await this.#follow(signal);
      if (signal.aborted) break;
      if (this.#snapshots > before) {
        failures = 0;
        backoff.reset();
      }
      if (error && "serverMessage" in error && error.serverMessage === WATCH_ROTATED) continue;
      failures++;
      const unimplemented = error instanceof TooLarge ||
        (error !== undefined && "code" in error && error.code === UNIMPLEMENTED);
      if (!this.#fallback && (unimplemented || failures >= limit)) {
        this.#fallback = true;
        o.observer?.fallback(true);
        o.log.warn(
          unimplemented
            ? "router-hosts does not implement WatchHosts: changes made on the server are found by the periodic resync only (--resync-period)"
            : `router-hosts WatchHosts stream failed ${failures} times in a row: changes made on the server are found by the periodic resync only (--resync-period) until it reconnects`,
          { error: error?.message },
        );
      }
      // A server without the method is asked again rarely (it may be
      // upgraded); a failing one at the backoff's pace, so it is live again
      // soon after it comes back.
      const delayMs = unimplemented ? o.fallbackRetryMs ?? 300_000 : backoff.next();
      if (!this.#fallback) {
        o.log.info("router-hosts WatchHosts stream ended; reconnecting", {
          error: error?.message,
          inMs: Math.round(delayMs),
        });
      }
      await sleep(this.#clock, delayMs, signal);
    }
  }

  /** One stream, until it ends; resolves to why (undefined: closed with OK, or by `signal`). */
  #follow(signal: AbortSignal): Promise<RouterHostsError | Error | undefined> {
    const max = this.#o.maxEntries ?? 200_000;
    return new Promise((resolve) => {
      let next: Known = new Map();
      let connected = false;
      let refused: TooLarge | undefined;
      const call = this.#o.source.watchHosts({
        message: (msg) => {
          if (refused) return; // cancelled; what is still in flight is dropped
          if (!connected) {
            connected = true;
            this.#o.observer?.connected(true);
          }
          if ("entry" in msg) {
            next.set(msg.entry.id, msg.entry.version + SEP + msg.entry.hostname);
            if (next.size > max) {
              refused = new TooLarge(max);
              call.cancel();
            }
          } else if ("complete" in msg) {
            const entries = next;
            next = new Map();
            if (msg.complete.count !== entries.size) {
              this.#o.log.warn("WatchHosts snapshot count disagrees with its entries; ignored", {
                count: msg.complete.count,
                received: entries.size,
              });
              return;
            }
            this.#apply(entries);
          }
        },
        end: (error) => {
          signal.removeEventListener("abort", stop);
          if (connected) this.#o.observer?.connected(false);
          resolve(signal.aborted ? undefined : refused ?? error);
        },
      });
      const stop = () => call.cancel();
      signal.addEventListener("abort", stop, { once: true });
    });
  }

  #apply(entries: Known): void {
    if (this.#fallback) {
      this.#fallback = false;
      this.#o.observer?.fallback(false);
      this.#o.log.info("router-hosts WatchHosts stream is back: entry changes are live again");
    }
    const known = this.#known;
    this.#known = entries;
    this.#snapshots++;
    const own = new Map<string, string | null>();
    for (const [id, w] of this.#own) own.set(id, w.value);
    if (known) {
      const changes = diffSnapshots(known, entries, own);
      try {
        if (changes.length > 0) this.#o.onChanges(changes);
      } catch (e) {
        // Inside a stream event: a throw here would end the process.
        this.#o.log.error("waking objects for WatchHosts changes failed", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    // A write is in every snapshot that starts after it, so the second one
    // after the write has shown it (or something newer): forget it then.
    for (const [id, w] of this.#own) {
      const value = entries.get(id);
      const seen = w.value === null ? value === undefined : value === w.value;
      if (seen || w.at <= this.#snapshots - 2) this.#own.delete(id);
    }
    this.#o.observer?.snapshot(entries.size);
  }
}
