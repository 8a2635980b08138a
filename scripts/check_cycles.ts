/**
 * Fails when the project's own modules import each other in a circle
 * (`deno task ok` runs it). Reads every tracked `.ts` file's static and
 * type-only relative imports, finds the strongly connected components of
 * that graph (Tarjan) and prints each one with more than one module — or a
 * module that imports itself — as a cycle to break.
 *
 * @module
 */

import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));
const SKIP = new Set([".cache", "node_modules", ".git", "dist"]);
const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s[^"';]*?from\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** The `.ts` files below `dir`, relative to {@link ROOT}. */
export function sourceFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(relative(ROOT, path));
  }
  return out;
}

/** The relative modules `source` (the text of `file`) imports, as root-relative paths. */
export function importsOf(file: string, source: string): string[] {
  const found = new Set<string>();
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(SPECIFIER)) {
    found.add(normalize(join(dirname(file), m[1] ?? m[2])));
  }
  return [...found];
}

/** Every cycle of `graph`: its strongly connected components that loop. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

if (import.meta.main) {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    graph.set(file, importsOf(file, Deno.readTextFileSync(join(ROOT, file))));
  }
  const found = cycles(graph);
  for (const c of found) console.error(`import cycle: ${c.join(" ↔ ")}`);
  if (found.length > 0) Deno.exit(1);
  console.log(`no import cycles among ${graph.size} modules`);
}
