/**
 * Structured JSON logging: one JSON object per line on stdout.
 *
 * A logger carries bound fields (controller, object key, ...) and is passed
 * down explicitly; there is no global logger. Fields whose value is an Error
 * are rendered as their message only, never a stack of secrets. A line is
 * bounded whatever a user put in an object: texts are cut at
 * {@link MAX_LOG_TEXT} characters and lists at {@link MAX_LOG_ITEMS} items,
 * each cut saying how much it left out.
 *
 * @module
 */

/** Log severities, lowest first. */
export const LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LEVELS}. */
export type Level = typeof LEVELS[number];

/** Extra fields of a log line. */
export type Fields = Record<string, unknown>;

/** Where finished lines go; stdout by default, a buffer in tests. */
export type Sink = (line: string) => void;

const encoder = new TextEncoder();
const stdoutSink: Sink = (line) => {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
};

/** Longest text (message or field) a line carries. */
export const MAX_LOG_TEXT = 8192;
/** Most items of a list field a line carries. */
export const MAX_LOG_ITEMS = 100;

function capText(text: string): string {
  return text.length <= MAX_LOG_TEXT
    ? text
    : `${text.slice(0, MAX_LOG_TEXT)}… (${text.length - MAX_LOG_TEXT} more characters)`;
}

function capValue(v: unknown): unknown {
  if (typeof v === "string") return capText(v);
  if (v instanceof Error) return capText(v.message);
  if (!Array.isArray(v)) return v;
  const kept = v.slice(0, MAX_LOG_ITEMS).map((x) => typeof x === "string" ? capText(x) : x);
  return v.length > MAX_LOG_ITEMS ? [...kept, `… and ${v.length - MAX_LOG_ITEMS} more`] : kept;
}

/** A structured logger with bound fields. */
export class Logger {
  readonly #min: number;
  readonly #fields: Fields;
  readonly #sink: Sink;

  constructor(options: { level?: Level; fields?: Fields; sink?: Sink } = {}) {
    this.#min = LEVELS.indexOf(options.level ?? "info");
    this.#fields = options.fields ?? {};
    this.#sink = options.sink ?? stdoutSink;
  }

  /** A logger that adds `fields` to every line. */
  with(fields: Fields): Logger {
    return new Logger({
      level: LEVELS[this.#min],
      fields: { ...this.#fields, ...fields },
      sink: this.#sink,
    });
  }

  /** True when lines of `level` are written. */
  enabled(level: Level): boolean {
    return LEVELS.indexOf(level) >= this.#min;
  }

  debug(msg: string, fields?: Fields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.#log("error", msg, fields);
  }

  #log(level: Level, msg: string, fields?: Fields): void {
    if (!this.enabled(level)) return;
    const line: Fields = {
      time: new Date().toISOString(),
      level,
      msg: capText(msg),
      ...this.#fields,
    };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) line[k] = capValue(v);
      }
    }
    this.#sink(JSON.stringify(line));
  }
}
