/**
 * An in-memory stand-in for the router-hosts server, for the controllers'
 * unit tests only (the e2e tests use the test bed's server): ids, versions
 * bumped once per field present in an update (as the server does),
 * duplicate detection, version conflicts (UpdateHost, and DeleteHost when
 * given an expected version), a loose search, impossible ids,
 * an outage switch and per-method failures. Every call is logged in `calls`.
 *
 * @module
 */
import { status } from "@grpc/grpc-js";
import type { HostEntry, HostsPort, HostUpdate, NewHost } from "../../grpc/hosts_port.ts";
import { RouterHostsError } from "../../grpc/errors.ts";

/** See the module documentation. */
export class FakeHosts implements HostsPort {
  readonly address = "fake:1";
  entries = new Map<string, HostEntry>();
  calls: string[] = [];
  /** Every call fails UNAVAILABLE while true. */
  down = false;
  /** Calls of these methods fail with this gRPC status code (e.g. INTERNAL). */
  failing = new Map<string, number>();
  /** Versions bumped behind the caller's back before the next updates. */
  interfere = 0;
  #next = 1;

  #err(code: number, method: string, msg: string): RouterHostsError {
    return new RouterHostsError({ code, method, address: this.address, serverMessage: msg });
  }

  /** Logs the call; throws when down or when `id` cannot be a ULID. */
  #call(method: string, id?: string): void {
    this.calls.push(method);
    if (this.down) throw this.#err(status.UNAVAILABLE, method, "connection refused");
    const code = this.failing.get(method);
    if (code !== undefined) throw this.#err(code, method, "internal server error");
    if (id !== undefined && !/^[0-9A-Z]{26}$/.test(id)) {
      throw this.#err(status.INVALID_ARGUMENT, method, `invalid ID "${id}": bad data size`);
    }
  }

  #run<T>(method: string, id: string | undefined, fn: () => T): Promise<T> {
    try {
      this.#call(method, id);
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #get(method: string, id: string): HostEntry {
    const e = this.entries.get(id);
    if (!e) throw this.#err(status.NOT_FOUND, method, `host "${id}" not found`);
    return e;
  }

  /** Puts an entry in place without a call (test setup). */
  add(h: NewHost): HostEntry {
    const id = `01J${String(this.#next++).padStart(23, "0")}`;
    const e: HostEntry = {
      id,
      ipAddress: h.ipAddress,
      hostname: h.hostname,
      comment: h.comment,
      aliases: h.aliases ?? [],
      tags: h.tags ?? [],
      version: "1",
    };
    this.entries.set(id, e);
    return { ...e };
  }

  addHost(h: NewHost): Promise<HostEntry> {
    return this.#run("AddHost", undefined, () => {
      for (const e of this.entries.values()) {
        if (e.ipAddress === h.ipAddress && e.hostname === h.hostname) {
          throw this.#err(status.ALREADY_EXISTS, "AddHost", "duplicate entry");
        }
      }
      return this.add(h);
    });
  }

  getHost(id: string): Promise<HostEntry> {
    return this.#run("GetHost", id, () => ({ ...this.#get("GetHost", id) }));
  }

  updateHost(u: HostUpdate): Promise<HostEntry> {
    return this.#run("UpdateHost", u.id, () => {
      const e = this.#get("UpdateHost", u.id);
      if (this.interfere > 0) {
        this.interfere--;
        e.version = String(Number(e.version) + 1);
      }
      if (u.expectedVersion !== e.version) {
        throw this.#err(status.ABORTED, "UpdateHost", "version conflict");
      }
      let events = 0;
      if (u.ipAddress !== undefined) (e.ipAddress = u.ipAddress), events++;
      if (u.hostname !== undefined) (e.hostname = u.hostname), events++;
      if (u.comment !== undefined) (e.comment = u.comment), events++;
      if (u.aliases) (e.aliases = u.aliases), events++;
      if (u.tags) (e.tags = u.tags), events++;
      e.version = String(Number(e.version) + events);
      return { ...e };
    });
  }

  /** Unconditional without `expectedVersion`; with it, checked as the server checks it. */
  deleteHost(id: string, expectedVersion?: string): Promise<void> {
    return this.#run("DeleteHost", id, () => {
      const e = this.#get("DeleteHost", id);
      if (expectedVersion !== undefined) {
        if (!/^\d+$/.test(expectedVersion)) {
          throw this.#err(
            status.INVALID_ARGUMENT,
            "DeleteHost",
            `invalid expected_version "${expectedVersion}"`,
          );
        }
        if (expectedVersion !== e.version) {
          throw this.#err(
            status.ABORTED,
            "DeleteHost",
            `delete host: version conflict on ${id}: expected ${expectedVersion}, got ${e.version}`,
          );
        }
      }
      this.entries.delete(id);
    });
  }

  /** Case-insensitive substring over ip, hostname, comment and tags, like the server. */
  searchHosts(query: string): Promise<HostEntry[]> {
    return this.#run("SearchHosts", undefined, () => {
      const q = query.toLowerCase();
      return [...this.entries.values()].filter((e) =>
        [e.ipAddress, e.hostname, e.comment ?? "", ...e.tags].some((f) =>
          f.toLowerCase().includes(q)
        )
      ).map((e) => ({ ...e }));
    });
  }

  async findExact(ip: string, hostname: string): Promise<HostEntry[]> {
    return (await this.searchHosts(hostname)).filter((e) =>
      e.ipAddress === ip && e.hostname.toLowerCase() === hostname.toLowerCase()
    );
  }

  /** Every entry, as the server's ListHosts stream. */
  listHosts(): Promise<HostEntry[]> {
    return this.#run(
      "ListHosts",
      undefined,
      () => [...this.entries.values()].map((e) => ({ ...e })),
    );
  }

  /** The entries keyed by hostname. */
  byHostname(): Record<string, HostEntry> {
    return Object.fromEntries([...this.entries.values()].map((e) => [e.hostname, e]));
  }
}
