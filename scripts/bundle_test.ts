/**
 * `scripts/bundle.ts`: the rewrites that keep `--help` free of `node:`
 * loading, and their refusals (a build that would break from an empty
 * folder fails in one line instead).
 */
import assert from "node:assert/strict";
import {
  BundleError,
  programEntry,
  programFunction,
  rewriteDispatcher,
  scopeMinified,
} from "./bundle.ts";

Deno.test("bundle: the dispatcher's command imports go through __dzImport; others are refused", () => {
  const r = rewriteDispatcher(
    'var C = { a: { load: () => import("./commands/a-b.ts") }, b: { load: () => import( "./commands/c.ts" ) } };',
  );
  assert.deepEqual(r.commands, ["./commands/a-b.ts", "./commands/c.ts"]);
  assert.match(r.code, /__dzImport\("\.\/commands\/a-b\.ts"\)/);
  assert.doesNotMatch(r.code, /import\(/);
  for (
    const bad of [
      'import { x } from "node:path";\nconst C = () => import("./commands/a.ts");',
      'const C = () => import("./commands/a.ts"); const D = () => import("./lib/x.ts");',
      "const nothing = 1;",
    ]
  ) {
    assert.throws(() => rewriteDispatcher(bad), BundleError);
  }
});

Deno.test("bundle: the program entry maps each specifier to its file", () => {
  const text = programEntry(["./commands/a.ts"], "/repo/");
  assert.equal(
    text,
    'export const MODULES = {\n  "./commands/a.ts": () => import("file:///repo/commands/a.ts"),\n};\n',
  );
});

Deno.test("bundle: node: imports become awaited imports at the top of __dzProgram", async () => {
  const fn = programFunction([
    'import { createRequire as __deno_internal_createRequire } from "node:module";',
    "var __require = __deno_internal_createRequire(import.meta.url);",
    "var early = () => join2('a', 'b');",
    'import { join as join2, posix } from "node:path";',
    'import crypto2 from "node:crypto";',
    'import * as util from "node:util";',
    'import buf, { Buffer } from "node:buffer";',
    "var MODULES = { x: () => [crypto2.createHash, util.format, buf, Buffer, posix, early()] };",
    "export {",
    "  MODULES",
    "};",
  ].join("\n"));
  assert.doesNotMatch(fn, /^\s*import\s/m);
  assert.match(fn, /const \{ join: join2, posix \} = await import\("node:path"\);/);
  assert.match(fn, /const \{ default: crypto2 \} = await import\("node:crypto"\);/);
  assert.match(fn, /const util = await import\("node:util"\);/);
  assert.match(fn, /const \{ default: buf, Buffer \} = await import\("node:buffer"\);/);
  assert.match(fn, /createRequire\("file:\/\/\/dangerzone-image\.js"\)/);
  // It runs: the imports are in place before any code.
  const program = new Function(`${fn}\nreturn __dzProgram();`) as () => Promise<
    { MODULES: { x(): unknown[] } }
  >;
  const { MODULES } = await program();
  assert.equal(MODULES.x()[5], ["a", "b"].join("/"));

  for (
    const bad of [
      'import { x } from "npm:thing";\nvar MODULES = {};\nexport { MODULES };',
      'var MODULES = { a: () => import("./other.js") };\nexport { MODULES };',
      "var MODULES = { u: import.meta.url };\nexport { MODULES };",
      "var MODULES = {};\nexport { MODULES, other };",
      "var MODULES = {};",
    ]
  ) {
    assert.throws(() => programFunction(bad), BundleError, bad);
  }
});

Deno.test("bundle: the minified program is compiled on first use, strict, in its own scope", async () => {
  const wrapped = scopeMinified(
    "var a=1;async function b(){return {MODULES:{v:a,strict:this===void 0}}}export{b as __dzProgram};",
  );
  assert.doesNotMatch(wrapped, /^var a/m, "the program is a string, not code of the file");
  const f = new Function(`${wrapped}\nreturn [__dzProgram(), typeof a, typeof b];`) as () => [
    Promise<{ MODULES: { v: number; strict: boolean } }>,
    string,
    string,
  ];
  const [p, a, b] = f();
  assert.deepEqual([a, b], ["undefined", "undefined"], "minified names do not leak");
  assert.deepEqual((await p).MODULES, { v: 1, strict: true });
  assert.equal(typeof (globalThis as Record<string, unknown>).a, "undefined");
  assert.throws(() => scopeMinified("var a=1;"), BundleError);
});
