/**
 * The allowed-imports rules of docs/architecture.md, checked against the
 * import graph `deno info --json` builds for every module under `lib/`.
 */

import assert from "node:assert/strict";
import {
  areaGraph,
  areaOf,
  cycles,
  fileGraph,
  type ImportEdge,
  importEdges,
  REPO_ROOT,
  tsFilesUnder,
} from "./helpers/import_graph.ts";

/**
 * The layers of docs/architecture.md, bottom first. An area imports only
 * areas of its own layer or below (and, with the no-cycle rule, never back).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors", "progress", "encoding", "json", "npm", "crypto", "process", "config"],
  ["fs", "digest", "tar", "oci", "keys"],
  ["registry", "transfer", "transparency", "trust", "sigstore"],
  ["bundle", "signatures"],
  ["image", "store", "publish"],
  ["archive", "runtime"],
  ["update", "mirror", "provenance"],
  ["cli"],
];

/** The command registry: lazy loaders of `commands/*.ts`, the only way down from lib/ to commands/. */
const COMMAND_REGISTRY = "lib/cli/commands.ts";

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

const productFiles = (await tsFilesUnder(REPO_ROOT, "lib")).filter((f) => !f.endsWith("_test.ts"));
const testFiles = (await tsFilesUnder(REPO_ROOT, "lib")).filter((f) => f.endsWith("_test.ts"));
const all: ImportEdge[] = await importEdges(REPO_ROOT, [...productFiles, ...testFiles]);
const product = all.filter((e) => productFiles.includes(e.from));
const inLib = product.filter((e) => e.to.startsWith("lib/"));
const show = (es: ImportEdge[]) => es.map((e) => `${e.from} -> ${e.to}`).join("\n");

Deno.test("architecture: the graph is read (every product module of lib/ is in it)", () => {
  const seen = new Set(product.flatMap((e) => [e.from, e.to]));
  // A module nothing imports and that imports nothing has no edge; all others are seen.
  assert.ok(seen.size > productFiles.length * 0.9, `only ${seen.size} modules in the graph`);
  assert.ok(inLib.length > 300, `only ${inLib.length} edges`);
});

Deno.test("architecture: lib/ product modules import nothing from tests/, scripts/, bench/, commands/", () => {
  const out = product.filter((e) => !e.to.startsWith("lib/"));
  const bad = out.filter((e) =>
    !(e.from === COMMAND_REGISTRY && /^commands\/[a-z0-9-]+\.ts$/.test(e.to))
  );
  assert.deepEqual(bad, [], `lib/ imports outside lib/:\n${show(bad)}`);
});

Deno.test("architecture: unit tests in lib/ import no command (integration tests live in tests/)", () => {
  const bad = all.filter((e) => testFiles.includes(e.from) && e.to.startsWith("commands/"));
  assert.deepEqual(bad, [], show(bad));
});

Deno.test("architecture: no cycles between areas of lib/, nor between files", () => {
  assert.deepEqual(cycles(areaGraph(inLib)), [], "areas importing each other");
  assert.deepEqual(cycles(fileGraph(inLib)), [], "files importing each other");
});

Deno.test("architecture: every area is placed in a layer and imports only its layer or below", () => {
  const areas = new Set(inLib.flatMap((e) => [areaOf(e.from), areaOf(e.to)]));
  const unplaced = [...areas].filter((a) => !layerOf.has(a));
  assert.deepEqual(unplaced, [], "areas missing from LAYERS and docs/architecture.md");
  const up = inLib.filter((e) => layerOf.get(areaOf(e.to))! > layerOf.get(areaOf(e.from))!);
  assert.deepEqual(up, [], `imports reaching up a layer:\n${show(up)}`);
});

Deno.test("architecture: nothing in lib/ imports the command edge (lib/cli)", () => {
  const bad = inLib.filter((e) => areaOf(e.to) === "cli" && areaOf(e.from) !== "cli");
  assert.deepEqual(bad, [], show(bad));
});

Deno.test("architecture: exit statuses live only in lib/cli (no EXIT_ / exitCode elsewhere in lib/)", async () => {
  // Errors carry a catalogue code (lib/errors/codes.ts); the command edge maps it to a status.
  const mentions = /\bEXIT_[A-Z]|\bexitCode\b|\bDeno\.exit\(/;
  const bad: string[] = [];
  for (const f of [...productFiles, ...testFiles]) {
    if (areaOf(f) === "cli") continue;
    const lines = (await Deno.readTextFile(`${REPO_ROOT}/${f}`)).split("\n");
    lines.forEach((l, i) => {
      if (mentions.test(l)) bad.push(`${f}:${i + 1}: ${l.trim()}`);
    });
  }
  assert.deepEqual(bad, [], bad.join("\n"));
});

Deno.test("architecture: docs/architecture.md lists every layer as LAYERS does", async () => {
  const doc = await Deno.readTextFile(`${REPO_ROOT}/docs/architecture.md`);
  for (const [i, names] of LAYERS.entries()) {
    const line = doc.split("\n").find((l) => new RegExp(`^\\|\\s*${i}\\s*\\|`).test(l));
    assert.ok(line, `docs/architecture.md has no row for layer ${i}`);
    for (const n of names) assert.ok(line.includes(`\`${n}\``), `layer ${i} row lacks \`${n}\``);
  }
});
