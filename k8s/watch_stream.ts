/**
 * The watch stream: newline-delimited JSON events read from a response
 * body, and the watchdog that ends a request whose peer went silent.
 *
 * @module
 */
import { parseJson } from "./api_error.ts";
import type { KubeObject } from "./resource.ts";

/** The kinds of watch events. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One line of a watch stream; for ERROR events `object` is a `Status`. */
export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/**
 * Aborts a request when the caller's signal aborts or a re-armable timer
 * expires, and remembers why the timer fired.
 */
export class Watchdog {
  readonly #ctl = new AbortController();
  readonly #outer: AbortSignal;
  readonly #onOuterAbort = () => this.#ctl.abort();
  #timer?: ReturnType<typeof setTimeout>;
  /** Why the timer fired, once it has. */
  reason?: string;

  constructor(outer: AbortSignal) {
    this.#outer = outer;
    outer.addEventListener("abort", this.#onOuterAbort, { once: true });
    if (outer.aborted) this.#ctl.abort();
  }

  /** Aborts when the caller aborts or the timer fires. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** (Re)starts the timer. */
  arm(ms: number, reason: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.reason = reason;
      this.#ctl.abort();
    }, ms);
  }

  /** Stops the timer, e.g. while the consumer handles events. */
  disarm(): void {
    clearTimeout(this.#timer);
  }

  /** Stops the timer and aborts whatever is still reading. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#outer.removeEventListener("abort", this.#onOuterAbort);
    this.#ctl.abort();
  }
}

/**
 * Yields one parsed watch event per non-empty line. The watchdog runs only
 * while waiting for bytes, so a slow consumer is not mistaken for a dead
 * server.
 */
export async function* readLines(
  body: ReadableStream<Uint8Array>,
  watchdog: { beforeRead: () => void; afterRead: () => void },
  what: string,
): AsyncGenerator<WatchEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      watchdog.beforeRead();
      const { done, value } = await reader.read();
      watchdog.afterRead();
      if (done) break;
      buffered += value;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield parseJson<WatchEvent>(what, 200, line);
      }
    }
    if (buffered.trim()) yield parseJson<WatchEvent>(what, 200, buffered.trim());
  } finally {
    reader.cancel().catch(() => {});
  }
}
