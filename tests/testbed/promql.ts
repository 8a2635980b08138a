/**
 * The metric names a PromQL expression reads, for checking dashboards
 * against what the operator exposes. Enough PromQL for our queries:
 * strings, label matchers, `by`/`without` groupings, ranges and function
 * calls are recognised and skipped; what remains are metric names.
 *
 * @module
 */

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "sum",
  "min",
  "max",
  "avg",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "group",
  "inf",
  "nan",
]);

/** Metric names in `expr` (histogram series keep their _bucket/_sum/_count suffix). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice(m.index! + word.length).trimStart();
    if (after.startsWith("(")) continue; // a function or aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    // A Grafana variable ($x), or the unit of a number or duration (0.5, 1h).
    if (/[$\w.]/.test(stripped[m.index! - 1] ?? "")) continue;
    names.add(word);
  }
  return [...names];
}

/** Every PromQL expression in a Grafana dashboard (panel targets, nested rows, query variables). */
export function dashboardExpressions(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== "object" || v === null) return;
    const o = v as Record<string, unknown>;
    if (typeof o.expr === "string") out.push(o.expr);
    for (const value of Object.values(o)) walk(value);
  };
  walk(dashboard);
  const vars = (dashboard as { templating?: { list?: { query?: unknown }[] } }).templating?.list ??
    [];
  for (const v of vars) {
    const q = typeof v.query === "string" ? v.query : (v.query as { query?: string })?.query;
    const m = q && /^label_values\((?:([^,()]+),)?\s*[^,()]+\)$/.exec(q.trim());
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

/** The series names a family of `type` exposes. */
export function seriesOf(name: string, type: string): string[] {
  return type === "histogram"
    ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
    : type === "summary"
    ? [name, `${name}_sum`, `${name}_count`]
    : [name];
}
