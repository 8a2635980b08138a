/**
 * The one Prometheus text-format (0.0.4) parser of the tests and benchmarks:
 * strict enough to prove an exposition well-formed (every sample belongs to
 * a declared family, no series repeats, labels parse), with lookups by metric
 * name and label values.
 *
 * ```ts
 * const s = await op.scrape();
 * s.sum("router_hosts_grpc_requests_total", { method: "AddHost" }); // over every code
 * s.value("workqueue_depth", { name: "hostmapping" });             // exactly one series
 * ```
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  /** Sample name (for histograms `<family>_bucket`, `_sum`, `_count`). */
  name: string;
  /** Label values by label name. */
  labels: Record<string, string>;
  /** The value (`+Inf`, `-Inf` and `NaN` included). */
  value: number;
}

/** A metric family: its `# HELP`, `# TYPE` and samples. */
export interface Family {
  /** Family name. */
  name: string;
  /** `counter`, `gauge`, `histogram`, `summary` or `untyped`. */
  type: string;
  /** The help text. */
  help: string;
  /** Its samples in exposition order. */
  samples: Sample[];
}

/** Parses a sample value, including the format's special values. */
export function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`bad sample value "${text}"`);
  return n;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  let m;
  while (re.lastIndex < text.length && (m = re.exec(text))) {
    if (m[1] in labels) throw new Error(`label ${m[1]} repeated in {${text}}`);
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
  }
  if (re.lastIndex !== text.length) throw new Error(`bad labels {${text}}`);
  return labels;
}

/** Parses an exposition; throws on a malformed line, a sample of no declared family or a repeated series. */
export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { name, type: "untyped", help: "", samples: [] });
    return f;
  };
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][\w:]*) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]);
      if (meta[1] === "HELP") f.help = meta[3];
      else f.type = meta[3];
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, value] = m;
    const owner = families.get(name) ??
      families.get(name.replace(/_(bucket|sum|count)$/, ""));
    if (!owner) throw new Error(`sample of an undeclared family: ${line}`);
    const labels = parseLabels(labelText ?? "");
    const id = `${name}{${
      Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")
    }}`;
    if (seen.has(id)) throw new Error(`series repeated: ${id}`);
    seen.add(id);
    owner.samples.push({ name, labels, value: parseValue(value) });
  }
  return families;
}

/** A parsed scrape, with lookups. */
export class Scrape {
  /** Families by name. */
  readonly families: Map<string, Family>;
  constructor(text: string) {
    this.families = parsePrometheus(text);
  }
  /** The family `name`; throws when it is not exposed. */
  family(name: string): Family {
    const f = this.families.get(name);
    if (!f) throw new Error(`metric family ${name} is not exposed`);
    return f;
  }
  /** Samples named `sample` whose labels include `labels`. */
  samples(sample: string, labels: Record<string, string> = {}): Sample[] {
    const family = this.families.get(sample) ??
      this.families.get(sample.replace(/_(bucket|sum|count)$/, ""));
    return (family?.samples ?? []).filter((s) =>
      s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    );
  }
  /** The one matching sample's value; throws unless exactly one matches. */
  value(sample: string, labels: Record<string, string> = {}): number {
    const found = this.samples(sample, labels);
    if (found.length !== 1) {
      throw new Error(
        `expected one sample of ${sample}${JSON.stringify(labels)}, found ${found.length}`,
      );
    }
    return found[0].value;
  }
  /** Sum over the matching samples; 0 when none match (a counter not yet incremented). */
  sum(sample: string, labels: Record<string, string> = {}): number {
    return this.samples(sample, labels).reduce((total, s) => total + s.value, 0);
  }
  /** The buckets of one histogram series: [upper bound, cumulative count], in order. */
  buckets(name: string, labels: Record<string, string>): Array<[number, number]> {
    return this.samples(`${name}_bucket`, labels)
      .map((s) => [parseValue(s.labels.le), s.value] as [number, number])
      .sort((x, y) => x[0] - y[0]);
  }
}

/**
 * Sum of the samples of metric `name` in Prometheus text whose labels include
 * every one of `labels`, each written as in the exposition (`method="AddHost"`).
 */
export function metricSum(metrics: string, name: string, ...labels: string[]): number {
  const wanted: Record<string, string> = {};
  for (const l of labels) {
    const m = /^([a-zA-Z_]\w*)="(.*)"$/.exec(l);
    if (!m) throw new Error(`metricSum: label "${l}" is not written name="value"`);
    wanted[m[1]] = m[2];
  }
  return new Scrape(metrics).sum(name, wanted);
}
