/**
 * The informer's cache: one projection per object, keyed "namespace/name".
 *
 * Only the projection is kept — the fields a controller reads — so a cache
 * of 10,000 objects stays a few megabytes instead of holding every
 * managedFields entry the API server sends.
 *
 * @module
 */
import { deepEqual } from "./equal.ts";

/** A change the store applied: `value` undefined means the key was removed. */
export interface StoreChange<T> {
  key: string;
  value: T | undefined;
  /** What was stored before, if anything. */
  previous?: T;
}

/** A read-mostly map from object key to projection. */
export class Store<T> {
  #items = new Map<string, T>();

  /** The projection stored under `key`. */
  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  /** True when `key` is present. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** All keys (a snapshot, safe to iterate while the store changes). */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** All projections (a snapshot). */
  values(): T[] {
    return [...this.#items.values()];
  }

  /** Number of objects. */
  get size(): number {
    return this.#items.size;
  }

  /**
   * Stores `value` under `key` (or removes the key when `value` is
   * undefined). Returns false when nothing changed — the projection is
   * deep-equal to the stored one, or a missing key was removed.
   */
  apply(key: string, value: T | undefined): boolean {
    if (value === undefined) return this.#items.delete(key);
    const old = this.#items.get(key);
    if (old !== undefined && deepEqual(old, value)) return false;
    this.#items.set(key, value);
    return true;
  }

  /**
   * Replaces the whole content with `items` (a fresh list) and returns what
   * changed: removals first (objects deleted while we were not watching),
   * then additions and modifications. Unchanged objects are not reported.
   *
   * With `within`, only the keys it accepts are replaced and the rest stay:
   * a store shared by one informer per namespace, each listing only its own.
   */
  replace(items: Map<string, T>, within?: (key: string) => boolean): StoreChange<T>[] {
    const changes: StoreChange<T>[] = [];
    for (const key of this.#items.keys()) {
      if (!items.has(key) && (within?.(key) ?? true)) {
        changes.push({ key, value: undefined, previous: this.#items.get(key) });
      }
    }
    for (const [key, value] of items) {
      const old = this.#items.get(key);
      if (old === undefined || !deepEqual(old, value)) changes.push({ key, value, previous: old });
    }
    if (!within) {
      this.#items = items;
      return changes;
    }
    for (const change of changes) {
      if (change.value === undefined) this.#items.delete(change.key);
      else this.#items.set(change.key, change.value);
    }
    return changes;
  }
}
