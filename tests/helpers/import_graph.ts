/**
 * The import graph of `lib/`, built with `deno info --json`, and the
 * area-level view the architecture rules are stated in (docs/architecture.md).
 *
 * An area is a folder under `lib/` (`lib/keys/pkcs11` is its own area, apart
 * from `lib/keys`). Only static imports between files of this repository are
 * edges; npm/jsr packages are leaves and are not listed.
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/** One import: `from` imports `to`; both repository-relative paths. */
export interface ImportEdge {
  from: string;
  to: string;
}

/** The repository root (this file is tests/helpers/import_graph.ts). */
export const REPO_ROOT = join(dirname(fromFileUrl(import.meta.url)), "..", "..");

/** Every tracked-or-present `.ts` file under `dir` (repository-relative), sorted. */
export async function tsFilesUnder(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(join(root, d))) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && p.endsWith(".ts")) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * The file-level import edges reachable from `roots` (repository-relative),
 * as `deno info --json` resolves them (so import-map entries are honoured).
 */
export async function importEdges(root: string, roots: string[]): Promise<ImportEdge[]> {
  const tmp = await Deno.makeTempDir({ prefix: "import_graph_" });
  try {
    const entry = join(tmp, "root.ts");
    await Deno.writeTextFile(
      entry,
      roots.map((r) => `import ${JSON.stringify(join(root, r))};\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(root, "deno.json"), entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
      }[];
    };
    const local = (spec: string): string | undefined => {
      if (!spec.startsWith("file://")) return undefined;
      const rel = relative(root, fromFileUrl(spec));
      return rel.startsWith("..") ? undefined : rel;
    };
    const edges: ImportEdge[] = [];
    for (const m of info.modules) {
      const from = local(m.specifier);
      if (from === undefined) continue;
      for (const d of m.dependencies ?? []) {
        for (const spec of [d.code?.specifier, d.type?.specifier]) {
          const to = spec === undefined ? undefined : local(spec);
          if (to !== undefined && to !== from) edges.push({ from, to });
        }
      }
    }
    const seen = new Set<string>();
    return edges.filter((e) => {
      const k = `${e.from}\0${e.to}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** `lib/keys/pkcs11/uri.ts` → `keys`; a file outside lib/ → its top folder (`tests`). */
export function areaOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "lib") return parts[0];
  return parts.length > 2 ? parts[1] : "lib";
}

/** The file-level graph: file → the files it imports. */
export function fileGraph(edges: ImportEdge[]): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!g.has(e.from)) g.set(e.from, new Set());
    if (!g.has(e.to)) g.set(e.to, new Set());
    g.get(e.from)!.add(e.to);
  }
  return g;
}

/** Area → the areas it imports (self-imports left out). */
export function areaGraph(edges: ImportEdge[]): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = areaOf(e.from), b = areaOf(e.to);
    if (!g.has(a)) g.set(a, new Set());
    if (!g.has(b)) g.set(b, new Set());
    if (a !== b) g.get(a)!.add(b);
  }
  return g;
}

/** The strongly connected components with more than one node (Tarjan), each sorted. */
export function cycles(g: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** The edges of `edges` that run from area `a` to area `b`. */
export function edgesBetween(edges: ImportEdge[], a: string, b: string): ImportEdge[] {
  return edges.filter((e) => areaOf(e.from) === a && areaOf(e.to) === b);
}

if (import.meta.main) {
  const files = (await tsFilesUnder(REPO_ROOT, "lib")).filter((f) => !f.endsWith("_test.ts"));
  const edges = (await importEdges(REPO_ROOT, files)).filter((e) => e.from.startsWith("lib/"));
  const g = areaGraph(edges);
  const cs = cycles(g);
  console.log(`product modules: ${files.length}, edges: ${edges.length}, areas: ${g.size}`);
  console.log(`area cycles (strongly connected groups): ${cs.length}`);
  for (const c of cs) {
    console.log(`  ${c.join(" ")}`);
    for (const a of c) {
      for (const b of c) {
        if (a === b) continue;
        for (const e of edgesBetween(edges, a, b)) console.log(`    ${e.from} -> ${e.to}`);
      }
    }
  }
  const fc = cycles(fileGraph(edges));
  console.log(`file cycles: ${fc.length}`);
  for (const c of fc) console.log(`  ${c.join(" ")}`);
  console.log(`mutually importing area pairs: ${cyclicPairs(g).join(", ")}`);
  const out = edges.filter((e) => !e.to.startsWith("lib/"));
  console.log(`lib product imports outside lib/: ${out.length}`);
  for (const e of out) console.log(`  ${e.from} -> ${e.to}`);
}

/** Pairs of areas that import each other, directly or through other areas: each pair once, sorted. */
export function cyclicPairs(g: Map<string, Set<string>>): string[] {
  const reach = (a: string): Set<string> => {
    const seen = new Set<string>();
    const todo = [...(g.get(a) ?? [])];
    while (todo.length) {
      const x = todo.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      todo.push(...(g.get(x) ?? []));
    }
    return seen;
  };
  const direct: string[] = [];
  for (const [a, bs] of g) {
    for (const b of bs) if (a < b && g.get(b)?.has(a)) direct.push(`${a} <-> ${b}`);
  }
  void reach;
  return direct.sort();
}
