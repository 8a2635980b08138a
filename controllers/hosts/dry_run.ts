/**
 * `--dry-run`: the operator reads and plans everything as usual, and every
 * write it would make is logged at info with the object and the change
 * instead. Here: router-hosts writes (AddHost, UpdateHost, DeleteHost) and
 * Events; Kubernetes object writes (finalizer, annotation, status) are
 * logged by k8s/object_writer.ts in the same way.
 *
 * Reads go to the server, so the plan is the real one: an AddHost whose
 * ip+hostname already exists fails with ALREADY_EXISTS as the server would
 * answer, and the caller's adoption rule runs (and logs an UpdateHost or a
 * refusal). Nothing written is remembered, so every reconcile plans — and
 * logs — the same writes again.
 *
 * @module
 */
import type { HostEntry, HostsPort, HostUpdate, NewHost } from "../../grpc/hosts_port.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import type { EventRecorder, EventRegarding, EventType } from "../../k8s/events.ts";
import type { Logger } from "../../observability/log.ts";

/** gRPC ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/** The router-hosts calls of a dry run: reads pass through, writes are logged. */
export function dryRunHosts(api: HostsPort, log: Logger): HostsPort {
  let next = 0;
  return {
    address: api.address,
    getHost: (id) => api.getHost(id),
    searchHosts: (query) => api.searchHosts(query),
    listHosts: () => api.listHosts(),
    findExact: (ip, hostname) => api.findExact(ip, hostname),
    async addHost(host: NewHost): Promise<HostEntry> {
      if ((await api.findExact(host.ipAddress, host.hostname)).length > 0) {
        throw new RouterHostsError({
          code: ALREADY_EXISTS,
          method: "AddHost",
          address: api.address,
          serverMessage: `dry-run: ${host.hostname} -> ${host.ipAddress} already exists`,
        });
      }
      log.info("dry-run: would AddHost", { ...host });
      return {
        id: `dry-run-${++next}`,
        ipAddress: host.ipAddress,
        hostname: host.hostname,
        comment: host.comment,
        tags: host.tags ?? [],
        aliases: host.aliases ?? [],
        version: "dry-run",
      };
    },
    async updateHost(update: HostUpdate): Promise<HostEntry> {
      const current = await api.getHost(update.id);
      log.info("dry-run: would UpdateHost", { ...update, hostname: current.hostname });
      const { id: _id, expectedVersion: _v, ...change } = update;
      return { ...current, ...change };
    },
    deleteHost(id: string, expectedVersion?: string): Promise<void> {
      log.info("dry-run: would DeleteHost", { hostId: id, expectedVersion });
      return Promise.resolve();
    },
  };
}

/** Events of a dry run: logged, not recorded. */
export class DryRunEvents implements EventRecorder {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Logs the Event it would record. */
  event(regarding: EventRegarding, type: EventType, reason: string, note: string): void {
    this.#log.info("dry-run: would record Event", {
      kind: regarding.kind,
      object: `${regarding.namespace}/${regarding.name}`,
      type,
      reason,
      note,
    });
  }
}
