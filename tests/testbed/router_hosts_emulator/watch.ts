/**
 * The emulator's WatchHosts, as router-hosts v0.13.0 serves it: the opening
 * request picks one-shot (one snapshot, then the RPC ends) or follow mode (a
 * snapshot on connect and a fresh one after every change until either side
 * ends the stream; a client that half-closes ends it with OK). Every
 * snapshot is the whole table followed by one SnapshotComplete whose change
 * id is read before the entries are listed (a lower bound on what they
 * show). Changes arriving while a snapshot is being sent produce one more
 * snapshot, not one each: the sender waits on the network (flow control),
 * and a wake that came meanwhile is taken once.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";

/** Wakes every waiting sender at once; a wake before anyone waits is kept for the next wait. */
export class ChangeNotifier {
  #generation = 0;
  #waiters: (() => void)[] = [];

  /** The current generation: pass it to {@link changedSince}. */
  get generation(): number {
    return this.#generation;
  }

  /** A write committed. */
  notify(): void {
    this.#generation++;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once a change happened after `generation` (at once if one already did). */
  changedSince(generation: number): Promise<void> {
    if (this.#generation !== generation) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** What a snapshot needs from the emulator. */
export interface SnapshotSource<E> {
  /** The change id now: the event count, shaped like the server's 26-character ULIDs. */
  changeId(): string;
  /** Every live entry, as wire messages. */
  list(): E[];
}

/** The version of the template data contract the real v0.13.0 server advertises. */
const CONTRACT_VERSION = "1";

interface Duplex<E> {
  write(msg: { entry: E } | { complete: unknown }): boolean;
  once(event: "drain" | "close", fn: () => void): unknown;
}

/** Writes one message; resolves when the stream can take more (or has closed). */
function send<E>(call: Duplex<E>, msg: { entry: E } | { complete: unknown }): Promise<void> {
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve) => {
    call.once("drain", resolve);
    call.once("close", resolve);
  });
}

async function sendSnapshot<E>(call: Duplex<E>, source: SnapshotSource<E>): Promise<number> {
  const changeId = source.changeId();
  const entries = source.list();
  for (const entry of entries) await send(call, { entry });
  const now = Date.now();
  await send(call, {
    complete: {
      count: entries.length,
      generatedAt: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1_000_000 },
      contractVersion: CONTRACT_VERSION,
      changeId,
    },
  });
  return entries.length;
}

/** The WatchHosts handler; `log` gets one line per stream opened and ended. */
export function watchHostsHandler<E>(
  source: SnapshotSource<E>,
  changes: ChangeNotifier,
  log: (line: string) => void,
): grpc.handleBidiStreamingCall<{ follow?: boolean }, unknown> {
  return (call) => {
    const peer = call.getPeer();
    let closed = false;
    let opened = false;
    let stopWaiting: (() => void) | undefined;
    const close = () => {
      closed = true;
      stopWaiting?.();
    };
    call.on("close", close);
    call.on("cancelled", close);
    call.on("error", close);
    call.on("end", () => {
      // The client half-closed: the server ends the stream with OK.
      if (!closed) {
        close();
        call.end();
        log(`rpc WatchHosts from ${peer} -> OK: client closed the stream`);
      }
    });
    call.on("data", async (req: { follow?: boolean }) => {
      if (opened) return; // later messages carry only sink status, which we do not keep
      opened = true;
      const duplex = call as unknown as Duplex<E>;
      if (!req.follow) {
        const n = await sendSnapshot(duplex, source);
        call.end();
        log(`rpc WatchHosts from ${peer} -> OK: one snapshot, ${n} entries`);
        return;
      }
      log(`rpc WatchHosts from ${peer}: following`);
      let seen = changes.generation;
      await sendSnapshot(duplex, source);
      while (!closed) {
        await new Promise<void>((resolve) => {
          stopWaiting = resolve;
          changes.changedSince(seen).then(resolve);
        });
        if (closed) break;
        seen = changes.generation;
        await sendSnapshot(duplex, source);
      }
    });
  };
}
