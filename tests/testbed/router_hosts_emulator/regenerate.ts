/**
 * Hosts-file regeneration as the real server does it: after a write has
 * committed, list every entry, then replace the file — inside the RPC, with
 * nothing ordering one regeneration against another. Two overlapping writes
 * can therefore replace the file in the wrong order, and the file lacks the
 * later commit until some other write regenerates it (what the operator
 * does about it: docs/adr/0013-settle-write-after-overlapping-writes.md).
 *
 * The emulator runs on one JavaScript thread, so without help its writes
 * never overlap. The test-bed knob `jitterMs` waits a random time, up to
 * that many milliseconds, between the list and the write, so overlapping
 * writes reorder the way they sometimes do on the real server.
 *
 * @module
 */

/** Options of {@link regenerator}. */
export interface RegeneratorOptions<E> {
  /** Every live entry, read at the moment the regeneration starts. */
  list: () => E[];
  /** Replaces the hosts file with these entries (atomically). */
  write: (entries: E[]) => void;
  /** The longest wait between list and write; 0 writes at once (no reordering). */
  jitterMs: number;
  /** A number in [0, 1); Math.random by default. */
  random?: () => number;
  /** A failed write is reported here, with the method that ran it; the RPC still succeeds. */
  onError: (error: Error, method: string) => void;
}

/** Returns the regeneration each successful write (named `method`) runs before it answers. */
export function regenerator<E>(
  options: RegeneratorOptions<E>,
): (method: string) => Promise<void> {
  const random = options.random ?? Math.random;
  const write = (entries: E[], method: string) => {
    try {
      options.write(entries);
    } catch (e) {
      options.onError(e as Error, method);
    }
  };
  return async (method) => {
    const entries = options.list();
    if (options.jitterMs <= 0) {
      write(entries, method);
      return;
    }
    const delay = Math.floor(random() * (options.jitterMs + 1));
    await new Promise((resolve) => setTimeout(resolve, delay));
    write(entries, method);
  };
}

/** Parses `--hosts-file-jitter-ms`: a whole number of milliseconds, 0 to 10000. */
export function parseJitterMs(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value) || Number(value) > 10_000) {
    throw new Error(
      `invalid --hosts-file-jitter-ms ${
        JSON.stringify(value)
      }: want whole milliseconds, 0 to 10000`,
    );
  }
  return Number(value);
}
