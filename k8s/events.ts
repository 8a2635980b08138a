/**
 * Kubernetes Events (events.k8s.io/v1) about the objects we reconcile:
 * repeats are aggregated into one Event's `series`, each object has a rate
 * limit, and failures to record are logged, never thrown — an Event is a
 * courtesy, not part of reconciliation.
 *
 * Like client-go's events broadcaster, a repeat is the same object, type and
 * reason: the note is not part of it, because an error's text varies between
 * attempts (a retry's "connection refused" gains or loses detail) and the
 * API server keeps an Event's note immutable anyway — the series keeps the
 * first note. The first repeat is written at once (count 2, so `kubectl get
 * events` shows the Event repeating), later ones at most every 30 s, and the
 * last count too, at most 30 s late (a failed write waits for the next repeat).
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { realClock } from "./clock.ts";

/** The object an Event is about. */
export interface EventRegarding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** Normal or Warning. */
export type EventType = "Normal" | "Warning";

/** Records Events; controllers depend on this, tests may pass a fake. */
export interface EventRecorder {
  /** Records `reason` (CamelCase) with a human `note` about `regarding`. */
  event(regarding: EventRegarding, type: EventType, reason: string, note: string): void;
}

/** The one request the recorder makes (KubeClient implements it). */
export interface EventsApi {
  request<T>(opts: {
    method: string;
    path: string;
    body?: unknown;
    contentType?: string;
  }): Promise<T>;
}

/** MicroTime with exactly six fractional digits, as the API server requires. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

interface Series {
  name: string;
  namespace: string;
  /** Occurrences so far. */
  count: number;
  /** The count the API server has. */
  written: number;
  /** When the last request about this Event started. */
  lastWritten: number;
  /** Series PATCHes sent so far. */
  patches: number;
  /** The Event exists on the API server (its POST succeeded). */
  created: boolean;
  /** A request about this Event is in flight. */
  busy: boolean;
  timer?: TimerHandle;
  firstSeen: number;
}

/** Options of {@link KubeEventRecorder}. */
export interface RecorderOptions {
  api: EventsApi;
  log: Logger;
  /** reportingController, e.g. "router-hosts.fzymgc.house/operator". */
  controller: string;
  /** reportingInstance: this process's identity. */
  instance: string;
  clock?: Clock;
  /** Events per object before rate limiting (default 10). */
  burst?: number;
  /** One more allowed per object every this many ms (default 30 s). */
  refillMs?: number;
}

/** Repeats within this window join the first Event's series. */
const SERIES_WINDOW_MS = 10 * 60_000;
/** A series is written to the API server at most this often. */
const SERIES_WRITE_MS = 30_000;
/**
 * The API server refuses a note longer than this many BYTES of UTF-8 (its
 * event validation compares the Go string's length), whatever the API
 * version (events.k8s.io/v1 `note`, core/v1 `message`).
 */
export const MAX_NOTE_BYTES = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, on a character boundary,
 * ending in "…" when cut.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // A UTF-8 character is at most 4 bytes: shorter texts need no encoding.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  const ellipsis = "…";
  let end = maxBytes - encoder.encode(ellipsis).length;
  // Back to the first byte of the character that does not fit (continuations are 10xxxxxx).
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end)) + ellipsis;
}

/** Writes Events to the API server with aggregation and per-object rate limits. */
export class KubeEventRecorder implements EventRecorder {
  readonly #o: Required<Omit<RecorderOptions, "clock">> & { clock: Clock };
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RecorderOptions) {
    this.#o = { burst: 10, refillMs: 30_000, clock: realClock, ...options };
  }

  event(regarding: EventRegarding, type: EventType, reason: string, note: string): void {
    const now = this.#o.clock.now();
    this.#prune(now);
    const key = `${regarding.uid}\u0000${type}\u0000${reason}`;
    const series = this.#series.get(key);
    if (series && now - series.firstSeen < SERIES_WINDOW_MS) {
      series.count++;
      this.#flushSoon(series);
      return;
    }
    if (!this.#take(regarding.uid, now)) {
      this.#o.log.debug("event dropped by rate limit", { reason, object: keyOf(regarding) });
      return;
    }
    const name = `${regarding.name}.${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const shortNote = truncateUtf8(note, MAX_NOTE_BYTES);
    if (shortNote !== note) {
      // The Event shows the start; the log line keeps the rest (within the logger's own cap).
      this.#o.log.info("event note cut to the API server's limit; the full note follows", {
        reason,
        object: keyOf(regarding),
        note,
      });
    }
    const fresh: Series = {
      name,
      namespace: regarding.namespace,
      count: 1,
      written: 1,
      lastWritten: now,
      patches: 0,
      created: false,
      busy: true,
      firstSeen: now,
    };
    this.#series.set(key, fresh);
    const body = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace: regarding.namespace },
      eventTime: microTime(new Date()),
      reportingController: this.#o.controller,
      reportingInstance: this.#o.instance,
      action: "Reconcile",
      reason,
      note: shortNote,
      type,
      regarding,
    };
    this.#o.api.request({
      method: "POST",
      path: `/apis/events.k8s.io/v1/namespaces/${regarding.namespace}/events`,
      body,
    }).then(
      () => {
        fresh.created = true;
        fresh.busy = false;
        this.#flushSoon(fresh);
      },
      (e) => {
        if (this.#series.get(key) === fresh) this.#series.delete(key);
        this.#o.log.warn("could not record event", { reason, object: keyOf(regarding), error: e });
      },
    );
  }

  /** Schedules writing the series count: the first PATCH at once, later ones 30 s apart. */
  #flushSoon(series: Series): void {
    if (!series.created || series.busy || series.timer !== undefined) return;
    if (series.count === series.written) return;
    const clock = this.#o.clock;
    const delay = series.patches === 0 ? 0 : series.lastWritten + SERIES_WRITE_MS - clock.now();
    if (delay <= 0) {
      this.#writeSeries(series);
      return;
    }
    series.timer = clock.setTimeout(() => {
      series.timer = undefined;
      this.#flushSoon(series);
    }, delay);
  }

  #writeSeries(series: Series): void {
    const count = series.count;
    series.busy = true;
    series.patches++;
    series.lastWritten = this.#o.clock.now();
    this.#o.api.request({
      method: "PATCH",
      path: `/apis/events.k8s.io/v1/namespaces/${series.namespace}/events/${series.name}`,
      contentType: "application/merge-patch+json",
      body: { series: { count, lastObservedTime: microTime(new Date()) } },
    }).then(
      () => {
        series.written = count;
        series.busy = false;
        this.#flushSoon(series);
      },
      (e) => {
        // Not retried now: the next repeat (or nothing) writes it, 30 s on.
        series.busy = false;
        this.#o.log.debug("could not update event series", { event: series.name, error: e });
      },
    );
  }

  #take(uid: string, now: number): boolean {
    const b = this.#buckets.get(uid) ?? { tokens: this.#o.burst, at: now };
    b.tokens = Math.min(this.#o.burst, b.tokens + (now - b.at) / this.#o.refillMs);
    b.at = now;
    this.#buckets.set(uid, b);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Forgets series and buckets old enough not to matter, so memory stays bounded. */
  #prune(now: number): void {
    if (this.#series.size < 1000 && this.#buckets.size < 1000) return;
    for (const [k, s] of this.#series) {
      if (now - s.firstSeen >= SERIES_WINDOW_MS) this.#series.delete(k);
    }
    for (const [k, b] of this.#buckets) {
      if (now - b.at >= this.#o.refillMs * this.#o.burst) this.#buckets.delete(k);
    }
  }
}

function keyOf(r: EventRegarding): string {
  return `${r.namespace}/${r.name}`;
}
