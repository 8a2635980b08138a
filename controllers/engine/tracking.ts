/**
 * Which entries a source object tracks, and how that is recorded: the
 * `host-ids` annotation read (and, when corrupt, recovered from the server
 * by comment and tags) and written back, with ids whose annotation write
 * failed kept in memory for the next reconcile of the key.
 *
 * Separate from the engine (engine/reconcile.ts) because both its apply path
 * and its cleanup path (engine/cleanup.ts) read and record tracked entries
 * the same way; the in-memory ids must be one map for both.
 *
 * @module
 */
import type { HostsPort } from "../../grpc/hosts_port.ts";
import type { ObjectWriter } from "../../k8s/object_writer.ts";
import type { Logger } from "../../observability/log.ts";
import {
  HOST_IDS_ANNOTATION,
  parseHostIds,
  serializeHostIds,
  type TrackedHost,
} from "./host_ids.ts";
import { type Claims, ownsEntry, type Source, type SourceView } from "./source.ts";
import type { SourceEvents } from "./events.ts";

/** The message of a thrown value, for log lines. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Dependencies of {@link TrackedEntries}. */
export interface TrackedEntriesDeps<V extends SourceView> {
  source: Source<V>;
  hosts: HostsPort;
  report: SourceEvents<V>;
}

/** The tracked entries of one source's objects: read, recovered and recorded. */
export class TrackedEntries<V extends SourceView> {
  readonly #d: TrackedEntriesDeps<V>;
  /** Ids whose annotation write failed, merged into the next reconcile of the key. */
  readonly #unrecorded = new Map<string, TrackedHost[]>();

  constructor(deps: TrackedEntriesDeps<V>) {
    this.#d = deps;
  }

  /** Drops the ids kept in memory for `key`. */
  forget(key: string): void {
    this.#unrecorded.delete(key);
  }

  /** Writes the annotation when its content changes; remembers it in memory when the write fails. */
  async record(
    key: string,
    writer: ObjectWriter<V>,
    view: V,
    recorded: string | null | undefined,
    next: TrackedHost[],
    log: Logger,
  ): Promise<void> {
    const value = serializeHostIds(next);
    if (value !== recorded) {
      try {
        await writer.writeAnnotations(view, { [HOST_IDS_ANNOTATION]: value });
      } catch (e) {
        this.#unrecorded.set(key, next);
        log.warn("could not record host ids in the annotation; kept in memory for the next try", {
          error: errorText(e),
          tracked: next.length,
        });
        throw e;
      }
    }
    this.#unrecorded.delete(key);
  }

  /**
   * The entries the object tracks: the annotation (or, when it is corrupt,
   * our entries found on the server by comment) plus ids whose recording
   * failed. `recorded` is the annotation's canonical form (undefined when
   * corrupt), to tell whether it must be written.
   */
  async tracked(
    key: string,
    view: V,
    comment: string,
    claims: Claims,
    log: Logger,
  ): Promise<{ tracked: TrackedHost[]; recorded: string | null | undefined }> {
    const s = this.#d.source;
    const parsed = parseHostIds(view.hostIds);
    let tracked: TrackedHost[];
    let recorded: string | null | undefined;
    if ("error" in parsed) {
      const note = `annotation ${HOST_IDS_ANNOTATION} is corrupt (${parsed.error}); ` +
        `looking up this ${s.resource.kind}'s entries on router-hosts by comment "${comment}" ` +
        `and tags ${s.adoptTags.join(", ")}, and rewriting the annotation from them`;
      log.error("corrupt host-ids annotation", { error: parsed.error, value: view.hostIds });
      this.#d.report.event(view, "Warning", "CorruptAnnotation", note);
      const owns = ownsEntry(comment, s.adoptTags);
      const found = (await this.#d.hosts.searchHosts(comment)).filter((e) =>
        owns(e) && !claims.ids.has(e.id) && !claims.hostnames.has(e.hostname.toLowerCase())
      );
      tracked = found.map((e) => ({ hostname: e.hostname, id: e.id }));
      log.warn("recovered host ids from router-hosts", {
        found: tracked.length,
        hostnames: tracked.map((t) => t.hostname),
      });
    } else {
      tracked = parsed.tracked;
      recorded = serializeHostIds(tracked);
    }
    for (const t of this.#unrecorded.get(key) ?? []) {
      if (!tracked.some((x) => x.id === t.id)) tracked = [...tracked, t];
    }
    return { tracked, recorded };
  }
}
