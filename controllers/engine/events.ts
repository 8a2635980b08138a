/**
 * What the source engine tells people: Warning and Normal Events on the
 * object (through the recorder's per-object budget) and the matching log
 * lines — problems once per change, NoIngressIP once per wait, failures with
 * a typed reason.
 *
 * @module
 */
import type { EventRecorder, EventRegarding, EventType } from "../../k8s/events.ts";
import { apiVersionOf } from "../../k8s/resource.ts";
import { fingerprint } from "../../k8s/view.ts";
import type { Logger } from "../../observability/log.ts";
import { describeHolder } from "../hosts/policy.ts";
import { AdoptionRefusedError } from "../hosts/sync.ts";
import type { DesiredHosts, Source, SourceView } from "./source.ts";
import { syncFailure } from "./sync_error.ts";

/** A hostname whose sync failed, and why. */
export interface HostFailure {
  hostname: string;
  error: unknown;
}

/** Events of one reason per object change; the rest are summed up in one more. */
const EVENTS_PER_REASON = 5;

/** "a, b, c and 7 more". */
export function listSome(xs: readonly string[], max = 5): string {
  const head = xs.slice(0, max).join(", ");
  return xs.length > max ? `${head} and ${xs.length - max} more` : head;
}

/** The Events of one source; see the module documentation. */
export class SourceEvents<V extends SourceView> {
  readonly #source: Source<V>;
  readonly #events: EventRecorder;
  /** Fingerprint of the problems last reported per key: report each once. */
  readonly #reported = new Map<string, string>();
  /** Objects (uid) already told they have no IP, until they get one. */
  readonly #noIPWarned = new Set<string>();
  /** Hostnames last reported in conflict per key: one HostnameConflict Event per change. */
  readonly #conflicts = new Map<string, string>();

  constructor(source: Source<V>, events: EventRecorder) {
    this.#source = source;
    this.#events = events;
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string, uid?: string): void {
    this.#reported.delete(key);
    if (uid) this.#noIPWarned.delete(uid);
    this.#conflicts.delete(key);
  }

  /**
   * Hostnames of `key` whose entry another object holds (an
   * AdoptionRefusedError about an operator-written entry each): one Warning
   * Event naming the holders per change of the set.
   */
  hostnameConflicts(key: string, view: V, conflicts: HostFailure[], log: Logger): void {
    const hostnames = conflicts.map((f) => f.hostname).sort();
    const seen = hostnames.join(",");
    if (hostnames.length === 0 || this.#conflicts.get(key) === seen) {
      if (hostnames.length === 0) this.#conflicts.delete(key);
      return;
    }
    this.#conflicts.set(key, seen);
    const holders = conflicts.map((f) =>
      `${f.hostname} (held by ${describeHolder((f.error as AdoptionRefusedError).entry)})`
    );
    log.warn("hostname conflict: another object holds these entries; waiting for it to let go", {
      hostnames,
    });
    this.event(
      view,
      "Warning",
      "HostnameConflict",
      `${hostnames.length} hostname(s) are already held by another object or entry; it keeps ` +
        `them and this one takes over when it lets them go: ${listSome(holders)}`,
    );
  }

  /** One Event about `view`. */
  event(view: V, type: EventType, reason: string, note: string): void {
    this.#events.event(this.#regarding(view), type, reason, note);
  }

  /** Reports the problems of `desired`, once per change of them. */
  problems(key: string, view: V, desired: DesiredHosts, log: Logger): void {
    const seen = fingerprint(desired.problems);
    if (this.#reported.get(key) === seen) return;
    this.#reported.set(key, seen);
    const at = this.#regarding(view);
    const counts = new Map<string, number>();
    for (const p of desired.problems) {
      const type = p.type ?? "Warning";
      if (type === "Warning") log.warn(`${p.reason}: ${p.message}`, p.fields);
      else log.info(`${p.reason}: ${p.message}`, p.fields);
      const n = (counts.get(p.reason) ?? 0) + 1;
      counts.set(p.reason, n);
      if (n <= EVENTS_PER_REASON) this.#events.event(at, type, p.reason, p.message);
    }
    for (const [reason, n] of counts) {
      if (n <= EVENTS_PER_REASON) continue;
      this.#events.event(
        at,
        "Warning",
        reason,
        `${n - EVENTS_PER_REASON} more values are not synced; see the operator log`,
      );
    }
  }

  /**
   * Reports once per object (until it gets an IP) that `hosts` wait for one:
   * `NoIngressIP`, or the reason the IP source gives (UnresolvableAddress).
   */
  noIngressIP(
    view: V,
    hosts: readonly string[],
    missing: { missing: string; fix: string; reason?: string },
    log: Logger,
  ): void {
    if (hosts.length === 0 || this.#noIPWarned.has(view.uid)) return;
    this.#noIPWarned.add(view.uid);
    const note = `${missing.missing}: ${listSome(hosts)} ` +
      `are not synced to router-hosts; ${missing.fix}`;
    log.warn("no ingress IP; not syncing", {
      why: missing.missing,
      hostnames: hosts.length,
    });
    this.#events.event(this.#regarding(view), "Warning", missing.reason ?? "NoIngressIP", note);
  }

  /** The object has an IP again: a later wait is reported again. */
  gotIngressIP(uid: string): void {
    this.#noIPWarned.delete(uid);
  }

  /** Entries that were gone from the server and were made again. */
  recreated(view: V, what: readonly string[]): void {
    const note = `${what.length} host entr${
      what.length === 1 ? "y was" : "ies were"
    } gone from router-hosts and recreated: ${listSome(what)}`;
    this.event(view, "Normal", "Recreated", note);
  }

  /**
   * Entries updated in place (a new IP, aliases, tags): one Normal Event
   * naming the IP and its source (with IPs by hostname, `hostnames` name them).
   */
  updated(view: V, hostnames: readonly string[], ip: { ip?: string; from?: string }): void {
    const at = [ip.ip && `ip ${ip.ip}`, ip.from && `from ${ip.from}`].filter(Boolean).join(" ");
    const note = `${hostnames.length} host entr${
      hostnames.length === 1 ? "y" : "ies"
    } updated in place${at ? ` (${at})` : ""}: ${listSome(hostnames)}`;
    this.event(view, "Normal", "Updated", note);
  }

  /** Reports failed hosts (AdoptionRefused, SyncFailed); returns a one-line summary. */
  syncFailed(view: V, failures: HostFailure[], total: number, log: Logger): string {
    const classified = failures.map((f) => ({ ...f, ...syncFailure(f.error) }));
    const refused = classified.filter((f) => f.error instanceof AdoptionRefusedError);
    const other = classified.filter((f) => !(f.error instanceof AdoptionRefusedError));
    const at = this.#regarding(view);
    for (const f of classified) {
      log.warn("host entry sync failed", {
        hostname: f.hostname,
        reason: f.reason,
        error: f.message,
      });
    }
    if (refused.length > 0) {
      const note =
        `${refused.length} hostname(s) already have an entry on router-hosts that is not ours ` +
        `(comment and tags ${this.#source.adoptTags.join(", ")} must match to adopt it): ${
          listSome(refused.map((f) => f.hostname))
        }; first: ${refused[0].message}`;
      this.#events.event(at, "Warning", "AdoptionRefused", note);
    }
    if (other.length > 0) {
      const note = `${other.length} of ${total} host entr${
        total === 1 ? "y" : "ies"
      } failed to sync (${listSome(other.map((f) => f.hostname))}): ${other[0].message}`;
      this.#events.event(at, "Warning", "SyncFailed", note);
    }
    return `${failures.length} of ${total} host entries failed: ${
      classified.slice(0, 3).map((f) => `${f.hostname}: ${f.message}`).join("; ")
    }`;
  }

  /** Reports a cleanup that left entries behind; returns the note (the finalizer stays). */
  cleanupFailed(view: V, failures: HostFailure[], log: Logger): string {
    const { message } = syncFailure(failures[0].error);
    const note = `cleanup of ${failures.length} host entr${
      failures.length === 1 ? "y" : "ies"
    } failed, finalizer kept: ${message}`;
    log.warn("cleanup failed", { failed: failures.length, error: message });
    this.event(view, "Warning", "SyncFailed", note);
    return note;
  }

  #regarding(v: V): EventRegarding {
    return {
      apiVersion: apiVersionOf(this.#source.resource),
      kind: this.#source.resource.kind,
      namespace: v.namespace,
      name: v.name,
      uid: v.uid,
    };
  }
}
