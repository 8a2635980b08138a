/**
 * A reverse index from the keys of watched objects to the keys of the
 * objects that reference them (client-go's indexer, one direction), kept up
 * to date from the referencing kind's cache events: a Gateway's change
 * enqueues exactly the routes whose parentRefs name it, without a scan.
 *
 * @module
 */

/** Referenced key → referencing keys; see the module documentation. */
export class KeyIndex {
  readonly #byTarget = new Map<string, Set<string>>();
  readonly #bySource = new Map<string, readonly string[]>();

  /** Records that `source` now references exactly `targets` (none: forget it). */
  set(source: string, targets: readonly string[]): void {
    for (const t of this.#bySource.get(source) ?? []) {
      const sources = this.#byTarget.get(t);
      sources?.delete(source);
      if (sources?.size === 0) this.#byTarget.delete(t);
    }
    if (targets.length === 0) {
      this.#bySource.delete(source);
      return;
    }
    this.#bySource.set(source, [...new Set(targets)]);
    for (const t of targets) {
      let sources = this.#byTarget.get(t);
      if (!sources) this.#byTarget.set(t, sources = new Set());
      sources.add(source);
    }
  }

  /** The keys that reference `target` (a snapshot). */
  sourcesOf(target: string): string[] {
    return [...this.#byTarget.get(target) ?? []];
  }
}
