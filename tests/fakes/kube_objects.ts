/**
 * An in-memory stand-in for the API server's object endpoints, for the
 * controllers' unit tests only: the real {@link ObjectWriter} and
 * {@link Store} run on top of it. It answers JSON merge patches to an object
 * and to its `status` subresource the way the API server does where the
 * controllers rely on it: a patch carrying `metadata.resourceVersion` that is
 * not the current one fails 409, a JSON patch (RFC 6902: test, add, remove,
 * replace — the finalizer writes) whose `test` fails is refused 422, every change bumps resourceVersion, a
 * status patch does not touch the rest and vice versa, and an object being
 * deleted disappears once its last finalizer is removed. Every write is
 * logged in `writes`.
 *
 * It also lists and watches (a {@link ListWatchClient}), so informers and
 * whole controller units run on it: a LIST of a collection (one namespace or
 * all; a `metadata.name=` field selector honoured) returns the objects as
 * they are, and a WATCH streams every later change to them — ADDED,
 * MODIFIED, DELETED — with the resourceVersion of the write.
 *
 * @module
 */
import {
  type JsonPatchOp,
  KubeApiError,
  type Query,
  type RequestOptions,
  type WatchEvent,
} from "../../k8s/client.ts";
import type { RequestApi } from "../../k8s/object_writer.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import type { ListWatchClient } from "../../k8s/watcher.ts";

/** True when the object at `path` is in `collection` (one namespace, or all of them). */
function inCollection(path: string, collection: string): boolean {
  const dir = path.slice(0, path.lastIndexOf("/"));
  return dir === collection || dir.replace(/\/namespaces\/[^/]+/, "") === collection;
}

/** A `metadata.name=<name>` field selector's name; undefined for none (others are not served). */
function selectedName(query: Query | undefined): string | undefined {
  const selector = query?.fieldSelector;
  return typeof selector === "string" ? /^metadata\.name=(.*)$/.exec(selector)?.[1] : undefined;
}

/** See the module documentation. */
export class FakeObjectApi implements RequestApi, ListWatchClient {
  /** Objects by their API path (without subresource). */
  readonly objects = new Map<string, KubeObject>();
  /** "PATCH <path>" per write, in order. */
  readonly writes: string[] = [];
  #rv = 100;
  readonly #watchers = new Set<(path: string, e: WatchEvent) => void>();
  /** Every change, for watches that start from an older resourceVersion. */
  readonly #history: { path: string; event: WatchEvent }[] = [];

  /** Stores `obj` at `path` with a fresh resourceVersion (test setup, or a person's change); returns a copy. */
  put(path: string, obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.#rv) };
    const type = this.objects.has(path) ? "MODIFIED" : "ADDED";
    this.objects.set(path, stored);
    this.#emit(path, type, stored);
    return structuredClone(stored);
  }

  /** Deletes the object at `path` as the API server does: at once without finalizers, else marked. */
  delete(path: string): void {
    const o = this.objects.get(path);
    if (!o) return;
    if ((o.metadata?.finalizers ?? []).length === 0) {
      this.objects.delete(path);
      o.metadata = { ...o.metadata, resourceVersion: String(++this.#rv) };
      this.#emit(path, "DELETED", o);
    } else {
      this.put(path, {
        ...o,
        metadata: { ...o.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" },
      });
    }
  }

  list<T>(path: string, query?: Query): Promise<T> {
    const name = selectedName(query);
    const items = [...this.objects].filter(([p, o]) =>
      inCollection(p, path) && (name === undefined || o.metadata?.name === name)
    ).map(([, o]) => structuredClone(o));
    return Promise.resolve(
      { metadata: { resourceVersion: String(this.#rv) }, items } as unknown as T,
    );
  }

  async *watch(path: string, query: Query, signal: AbortSignal): AsyncIterable<WatchEvent> {
    const name = selectedName(query);
    const from = Number(query.resourceVersion ?? this.#rv);
    const queue: WatchEvent[] = [];
    let wake = () => {};
    const watcher = (p: string, e: WatchEvent) => {
      if (!inCollection(p, path) || (name !== undefined && e.object.metadata?.name !== name)) {
        return;
      }
      queue.push(e);
      wake();
    };
    // Changes since the resourceVersion asked for, as the API server replays them.
    for (const { path: p, event } of this.#history) {
      if (Number(event.object.metadata?.resourceVersion) > from) watcher(p, event);
    }
    this.#watchers.add(watcher);
    try {
      while (!signal.aborted) {
        if (queue.length > 0) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
          signal.addEventListener("abort", () => r(), { once: true });
        });
      }
    } finally {
      this.#watchers.delete(watcher);
    }
  }

  #emit(path: string, type: WatchEvent["type"], obj: KubeObject): void {
    const event: WatchEvent = { type, object: structuredClone(obj) };
    this.#history.push({ path, event });
    for (const w of this.#watchers) w(path, structuredClone(event));
  }

  /** A copy of the object at `path`, or undefined when it is gone. */
  get(path: string): KubeObject | undefined {
    const o = this.objects.get(path);
    return o && structuredClone(o);
  }

  request<T>(opts: RequestOptions): Promise<T> {
    try {
      return Promise.resolve(this.#handle(opts) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #handle(opts: RequestOptions): KubeObject {
    const json = opts.contentType === "application/json-patch+json";
    if (opts.method !== "PATCH" || (!json && opts.contentType !== "application/merge-patch+json")) {
      throw new Error(`FakeObjectApi: unsupported ${opts.method} ${opts.contentType ?? ""}`);
    }
    this.writes.push(`PATCH ${opts.path}`);
    const status = opts.path.endsWith("/status");
    const path = status ? opts.path.slice(0, -"/status".length) : opts.path;
    const current = this.objects.get(path);
    if (!current) throw new KubeApiError(`${path} not found`, { status: 404, reason: "NotFound" });
    if (json) return this.#store(path, jsonPatch(current, opts.body as JsonPatchOp[]));
    const patch = structuredClone(opts.body) as KubeObject;
    const wantRv = patch.metadata?.resourceVersion;
    if (wantRv !== undefined && wantRv !== current.metadata?.resourceVersion) {
      throw new KubeApiError(`${path}: the object has been modified`, {
        status: 409,
        reason: "Conflict",
      });
    }
    // The status subresource takes only status; the main resource ignores status.
    const body: KubeObject = status
      ? { status: patch.status }
      : Object.fromEntries(Object.entries(patch).filter(([k]) => k !== "status"));
    return this.#store(path, mergePatch(current, body) as KubeObject);
  }

  #store(path: string, next: KubeObject): KubeObject {
    next.metadata = { ...next.metadata, resourceVersion: String(++this.#rv) };
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(path);
      this.#emit(path, "DELETED", next);
    } else {
      this.objects.set(path, next);
      this.#emit(path, "MODIFIED", next);
    }
    return structuredClone(next);
  }
}

/**
 * RFC 6902 JSON patch, the ops the controllers send; a failed `test` is the
 * API server's 422.
 */
function jsonPatch(target: KubeObject, ops: readonly JsonPatchOp[]): KubeObject {
  const doc = structuredClone(target) as Record<string, unknown>;
  const invalid = (why: string) => new KubeApiError(why, { status: 422, reason: "Invalid" });
  for (const op of ops) {
    if (op.op === "move" || op.op === "copy") throw new Error(`FakeObjectApi: no ${op.op}`);
    const keys = op.path.split("/").slice(1).map((k) =>
      k.replaceAll("~1", "/").replaceAll("~0", "~")
    );
    const last = keys.pop()!;
    const value = "value" in op ? structuredClone(op.value) : undefined;
    let parent: unknown = doc;
    for (const k of keys) parent = (parent as Record<string, unknown> | undefined)?.[k];
    if (op.op === "test") {
      const actual = (parent as Record<string, unknown> | undefined)?.[last];
      if (JSON.stringify(actual ?? null) !== JSON.stringify(value ?? null)) {
        throw invalid(`test of ${op.path} failed`);
      }
    } else if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (op.op === "remove") parent.splice(i, 1);
      else parent.splice(i, op.op === "add" ? 0 : 1, value);
    } else if (typeof parent === "object" && parent !== null) {
      const obj = parent as Record<string, unknown>;
      if (op.op === "remove") delete obj[last];
      else obj[last] = value;
    } else {
      throw invalid(`${op.path}: no such parent`);
    }
  }
  return doc as KubeObject;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
