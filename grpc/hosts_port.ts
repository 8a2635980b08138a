/**
 * The router-hosts server as the rest of the operator sees it: one port,
 * {@link HostsPort}, and the entry types it speaks. The gRPC client
 * (./client.ts) implements it; the dry run (controllers/hosts/dry_run.ts)
 * wraps it; the controllers and the external-dns webhook take it. Nothing
 * outside grpc/ needs the client itself.
 *
 * @module
 */
import type { WireHostEntry } from "../proto/hosts_codec.ts";

/**
 * A host entry as the server holds it: the decoded wire entry (its
 * `version` is an opaque optimistic-concurrency token: compare for
 * equality only).
 */
export type HostEntry = WireHostEntry;

/** Fields of a new entry. */
export interface NewHost {
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags?: string[];
  aliases?: string[];
}

/** A change to an entry; absent fields are kept; `aliases`/`tags` replace the list (empty clears). */
export interface HostUpdate {
  id: string;
  /** The version just read: the server refuses the update (conflict) if it moved. */
  expectedVersion: string;
  ipAddress?: string;
  hostname?: string;
  comment?: string;
  aliases?: string[];
  tags?: string[];
}

/**
 * The router-hosts calls the operator makes. Failures are
 * `RouterHostsError`s (./errors.ts) carrying an outcome.
 */
export interface HostsPort {
  /** The server's address, for messages. */
  readonly address: string;
  /** Creates an entry; returns it with its id and version. */
  addHost(host: NewHost): Promise<HostEntry>;
  /** Reads one entry by id. */
  getHost(id: string): Promise<HostEntry>;
  /** Changes an entry, guarded by `expectedVersion`. */
  updateHost(update: HostUpdate): Promise<HostEntry>;
  /** Deletes an entry; unconditional unless `expectedVersion` is given. */
  deleteHost(id: string, expectedVersion?: string): Promise<void>;
  /** Entries whose ip and hostname are exactly these. */
  findExact(ipAddress: string, hostname: string): Promise<HostEntry[]>;
  /** The server's loose search (substring over ip, hostname, comment, tags). */
  searchHosts(query: string): Promise<HostEntry[]>;
  /** Every entry on the server. */
  listHosts(): Promise<HostEntry[]>;
}
