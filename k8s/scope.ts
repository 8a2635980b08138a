/**
 * A watch scope — which namespaces, which labels — and the informer that
 * honours it: one list+watch per namespace (or one across the cluster when
 * no namespace is given) with the label selector sent to the API server,
 * all feeding one {@link Store}. Objects outside the scope never reach the
 * process, so the cache, and the memory, hold only what is watched; and an
 * operator scoped to namespaces needs no cluster-wide permission.
 *
 * @module
 */
import type { Store } from "./store.ts";
import { Informer, type InformerOptions } from "./watcher.ts";

/** Which objects are watched; everything when both are unset. */
export interface WatchScope {
  /** Watch only these namespaces (one watch each); all when omitted or empty. */
  namespaces?: readonly string[];
  /** A label selector the API server applies to every list and watch. */
  labelSelector?: string;
}

/** Options of {@link ScopedInformer}: an informer's, with namespaces instead of one namespace. */
export interface ScopedInformerOptions<T> extends Omit<InformerOptions<T>, "namespace" | "store"> {
  /** One watch per namespace; one cluster-wide watch when omitted or empty. */
  namespaces?: readonly string[];
}

/** One {@link Informer} per namespace into one store; see the module documentation. */
export class ScopedInformer<T> {
  readonly #parts: Informer<T>[];
  readonly #onMissing?: (missing: boolean) => void;
  #missing = false;

  constructor(options: ScopedInformerOptions<T>) {
    const { namespaces, onMissing, ...rest } = options;
    const list: (string | undefined)[] = namespaces?.length && options.resource.namespaced
      ? [...new Set(namespaces)]
      : [undefined];
    const first = new Informer<T>({ ...rest, namespace: list[0], onMissing: () => this.#report() });
    this.#parts = [first];
    for (const namespace of list.slice(1)) {
      this.#parts.push(
        new Informer<T>({
          ...rest,
          namespace,
          store: first.store,
          onMissing: () => this.#report(),
        }),
      );
    }
    this.#onMissing = onMissing;
  }

  /** The cache of every watched namespace; read it, never write it. */
  get store(): Store<T> {
    return this.#parts[0].store;
  }

  /** True while the resource is not served in some watched namespace (CRD not installed). */
  get missing(): boolean {
    return this.#parts.some((p) => p.missing);
  }

  /** True once every namespace has been listed. */
  hasSynced(): boolean {
    return this.#parts.every((p) => p.hasSynced());
  }

  /** Resolves true once every namespace is synced, or false if `signal` aborts first. */
  async waitForSync(signal: AbortSignal): Promise<boolean> {
    const synced = await Promise.all(this.#parts.map((p) => p.waitForSync(signal)));
    return synced.every(Boolean);
  }

  /** Lists and watches every namespace until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#parts.map((p) => p.run(signal)));
  }

  /** Tells `onMissing` when the whole changes: missing in some namespace, or served in all. */
  #report(): void {
    const missing = this.missing;
    if (missing === this.#missing) return;
    this.#missing = missing;
    this.#onMissing?.(missing);
  }
}
