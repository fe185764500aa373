/**
 * `deno task bundle [--out FILE]`: write `dist/dangerzone-image.js`, the
 * whole program as ONE JavaScript file made by `deno bundle` from the same
 * module graph `deno compile` embeds (npm packages at the versions of
 * `deno.lock`, `--frozen-lockfile`; the public-good trusted root and
 * Dangerzone's key are modules of that graph, so they are inside). It runs
 * from an empty folder with `deno run --no-config [permissions]
 * dangerzone-image.js <command> …`, locally or from an HTTP(S) URL, and needs
 * nothing else: no `node_modules`, no import map, no network.
 *
 * Start-up: a plain bundle hoists every `node:` import to its top, and
 * loading Deno's Node compatibility layer alone costs 2–3× an empty
 * `deno run`, even for `--help`. So the file has two parts, both outputs of
 * `deno bundle`:
 *
 * - the dispatcher (readable): `mod.ts` bundled with `./commands/*` left external; it
 *   answers `--help`, `--version` and unknown commands without loading
 *   anything, and its `import("./commands/NAME.ts")` calls are rewritten to
 *   `__dzImport("./commands/NAME.ts")`;
 * - the program: every command bundled into one ES module (the `deno bundle
 *   --check` of a generated entry that maps each of those specifiers to its
 *   command), turned into the body of an async function
 *   ({@linkcode programFunction}), minified with `--keep-names`, and kept as
 *   a string that `__dzProgram()` at the end of the file compiles when a
 *   command first runs ({@linkcode scopeMinified}): V8 pre-parses every
 *   function of a file at start-up, but only scans a string.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeFileAtomic } from "../lib/fs/atomic.ts";

/** Project root (where `deno.json` and `mod.ts` are). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Default output path. */
export const DEFAULT_OUT: string = join(ROOT, "dist", "dangerzone-image.js");

/** A build that cannot go on; its message is the one line users see. */
export class BundleError extends Error {}

/** What {@linkcode buildBundle} made. */
export interface BuiltBundle {
  path: string;
  /** Size of the written file. */
  size: number;
  /** Size of `__dzProgram` (the commands and their dependencies). */
  programSize: number;
  /** The command specifiers the dispatcher loads lazily. */
  commands: string[];
  /** `name@version` of every npm package in the graph. */
  npmPackages: string[];
}

const decoder = new TextDecoder();

async function deno(args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    const err = decoder.decode(out.stderr).trim().split("\n");
    const line = err.find((l) => l.startsWith("error")) ?? err.pop() ?? `exit ${out.code}`;
    throw new BundleError(`deno ${args[0]} failed: ${line}`);
  }
  return decoder.decode(out.stdout);
}

function bundleArgs(entry: string, output: string, extra: string[] = []): string[] {
  return [
    "bundle",
    "--platform",
    "deno",
    "--config",
    join(ROOT, "deno.json"),
    "--frozen-lockfile",
    ...extra,
    "--output",
    output,
    entry,
  ];
}

/**
 * A lazily loaded module of the dispatcher (a command, or the command
 * runner `lib/cli/command.ts`), as it appears in the dispatcher bundle:
 * relative to the repository, or absolute (how `--external ./x` patterns are
 * written out).
 */
const COMMAND_IMPORT =
  /\bimport\(\s*"((?:\.|\/[^"]*?)\/(?:commands\/[a-z0-9-]+|lib\/cli\/command)\.ts)"\s*\)/g;

/** The modules the dispatcher loads lazily (`--external` patterns, relative to the repository). */
const LAZY = ["./commands/*", "./lib/cli/command.ts"];

/**
 * Rewrite the dispatcher's `import("./commands/NAME.ts")` calls to
 * `__dzImport(…)`; refuses a dispatcher with any other import, static or
 * dynamic (it would fail from an empty folder or slow `--help` down).
 */
export function rewriteDispatcher(code: string): { code: string; commands: string[] } {
  const commands: string[] = [];
  const rewritten = code.replace(COMMAND_IMPORT, (_m, found: string) => {
    const spec = `./${
      found.replace(/^.*?\/(commands\/[a-z0-9-]+\.ts|lib\/cli\/command\.ts)$/, "$1")
    }`;
    if (!commands.includes(spec)) commands.push(spec);
    return `__dzImport(${JSON.stringify(spec)})`;
  });
  const other = rewritten.match(/\bimport\s*\(|^\s*import\s|\bfrom\s*["']/m);
  if (other) {
    throw new BundleError(
      `mod.ts bundles with an import other than ./commands/*.ts ('${other[0]}'): ` +
        "keep the dispatcher free of code imports so --help stays fast",
    );
  }
  if (commands.length === 0) throw new BundleError("mod.ts loads no ./commands/*.ts");
  return { code: rewritten, commands };
}

/** The generated entry of the program: each command specifier → its module. */
export function programEntry(commands: string[], root = ROOT): string {
  const lines = commands.map((spec) =>
    `  ${JSON.stringify(spec)}: () => import(${
      JSON.stringify(pathToFileURL(join(root, spec)).href)
    }),`
  );
  return `export const MODULES = {\n${lines.join("\n")}\n};\n`;
}

/** One `import … from "node:…";` statement of the program bundle. */
const NODE_IMPORT =
  /^import\s+(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\}|\*\s+as\s+(\w+))?\s*from\s*"(node:[\w/]+)";?[ \t]*$/gm;

/**
 * Turn the program's bundle (an ES module) into the body of an async
 * function: its `node:` imports become `await import("node:…")` at the
 * function's start (where ES imports are evaluated, before any code), and
 * its `export { MODULES }` its return value. A program with any other
 * import, or using `import.meta`, is refused: neither can be served from
 * inside a function. `createRequire(import.meta.url)` (which the
 * bundle uses to `require` `node:` builtins only) gets a fixed file URL.
 */
export function programFunction(code: string): string {
  const loads: string[] = [];
  let body = code.replace(
    NODE_IMPORT,
    (_m, def: string | undefined, named: string | undefined, ns: string | undefined, spec) => {
      const mod = JSON.stringify(spec);
      if (ns) loads.push(`const ${ns} = await import(${mod});`);
      const fields = named
        ? named.split(",").map((s) => s.trim()).filter(Boolean).map((s) =>
          s.replace(/^(\w+)\s+as\s+(\w+)$/, "$1: $2")
        )
        : [];
      if (def) fields.unshift(`default: ${def}`);
      if (fields.length) loads.push(`const { ${fields.join(", ")} } = await import(${mod});`);
      if (!ns && !fields.length) loads.push(`await import(${mod});`);
      return "";
    },
  );
  const stray = body.match(/^\s*import(?:\s+[\w{*]|\s*["'{*])[^\n]*/m) ??
    body.match(/\bimport\s*\(\s*[^)]*\)/);
  if (stray) {
    throw new BundleError(`the program bundle has an import this cannot lazy-load: ${stray[0]}`);
  }
  const from = "__deno_internal_createRequire(import.meta.url)";
  if (body.split(from).length > 2) {
    throw new BundleError(`the program calls ${from} more than once`);
  }
  body = body.replace(from, '__deno_internal_createRequire("file:///dangerzone-image.js")');
  const meta = body.match(/import\.meta\.\w+/);
  if (meta) throw new BundleError(`the program uses ${meta[0]}, which a function cannot answer`);
  const exports = [...body.matchAll(/^export\s*\{([^}]*)\};?[ \t]*$/gm)];
  const local = exports.length === 1
    ? exports[0][1].trim().match(/^(?:(\w+)\s+as\s+)?MODULES$/)
    : null;
  if (!local) throw new BundleError("the program bundle must end in export { MODULES }");
  body = body.replace(exports[0][0], `return { MODULES: ${local[1] ?? "MODULES"} };\n`);
  if (/^export\s/m.test(body)) {
    throw new BundleError("the program bundle exports more than MODULES");
  }
  const indent = (s: string) => s.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n");
  return `async function __dzProgram() {\n${indent([...loads, body.trim()].join("\n"))}\n}\n`;
}

/**
 * The minified `export async function __dzProgram` as a string constant,
 * compiled (indirect `eval`, strict mode, its own scope) the first time a
 * command runs. A function in the file, even one never called, is
 * pre-parsed at every start (≈ 14 ms for this program here); a string is
 * only scanned (≈ 3 ms). The string is a constant of this same file, so
 * nothing from outside reaches `eval`.
 */
export function scopeMinified(code: string): string {
  const exports = [...code.matchAll(/export\s*\{\s*(\w+)\s+as\s+__dzProgram\s*\};?/g)];
  if (exports.length !== 1) {
    throw new BundleError("the minified program must export __dzProgram alone");
  }
  const body = code.replace(exports[0][0], "").trim();
  const source = `"use strict";\n${body}\n${exports[0][1]};\n`;
  return [
    "function __dzProgram() {",
    "  return (0, eval)(__dzProgramSource())();",
    "}",
    "function __dzProgramSource() {",
    `  return ${JSON.stringify(source)};`,
    "}",
    "",
  ].join("\n");
}

/** The loader placed before the dispatcher: runs the program on first use. */
const LOADER = `let __dzLoaded;
function __dzImport(spec) {
  __dzLoaded ??= __dzProgram();
  return __dzLoaded.then((program) => program.MODULES[spec]());
}
`;

/** `name@version` of the npm packages mod.ts's graph reaches (and their dependencies). */
async function npmPackages(): Promise<string[]> {
  const info = JSON.parse(await deno(["info", "--json", join(ROOT, "mod.ts")])) as {
    modules: { kind?: string; npmPackage?: string }[];
    npmPackages?: Record<string, { name: string; version: string; dependencies?: string[] }>;
  };
  const all = info.npmPackages ?? {};
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !all[id]) return;
    seen.add(id);
    for (const dep of all[id].dependencies ?? []) visit(dep);
  };
  for (const m of info.modules) if (m.kind === "npm" && m.npmPackage) visit(m.npmPackage);
  return [...seen].map((id) => `${all[id].name}@${all[id].version}`).sort();
}

/** The commit the tree is at, with a note when the tree differs from it. */
async function gitCommit(): Promise<string | undefined> {
  const git = async (args: string[]) => {
    try {
      const out = await new Deno.Command("git", {
        args,
        cwd: ROOT,
        stdout: "piped",
        stderr: "null",
      }).output();
      return out.success ? decoder.decode(out.stdout).trim() : undefined;
    } catch {
      return undefined;
    }
  };
  const head = await git(["rev-parse", "HEAD"]);
  if (!head) return undefined;
  const dirty = await git(["status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head} (with uncommitted changes)` : head;
}

/** Build the one-file bundle at `out` (atomically). */
export async function buildBundle(out = DEFAULT_OUT): Promise<BuiltBundle> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as {
    version?: string;
    name?: string;
  };
  await Deno.mkdir(join(ROOT, "dist"), { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: join(ROOT, "dist"), prefix: ".bundle-" });
  try {
    // 1. The dispatcher: mod.ts without its commands.
    const dispatcherJs = join(tmp, "dispatcher.js");
    await deno(
      bundleArgs(join(ROOT, "mod.ts"), dispatcherJs, LAZY.flatMap((p) => ["--external", p])),
    );
    const dispatcher = rewriteDispatcher(await Deno.readTextFile(dispatcherJs));

    // 2. The program: every command the dispatcher names, in one module.
    const entry = join(tmp, "program_entry.ts");
    await Deno.writeTextFile(entry, programEntry(dispatcher.commands));
    const programJs = join(tmp, "program.js");
    await deno(bundleArgs(entry, programJs, ["--check"]));
    const fnJs = join(tmp, "program_function.js");
    await Deno.writeTextFile(fnJs, `export ${programFunction(await Deno.readTextFile(programJs))}`);
    const minJs = join(tmp, "program.min.js");
    await deno(bundleArgs(fnJs, minJs, ["--minify", "--keep-names"]));
    const program = scopeMinified(await Deno.readTextFile(minJs));
    const programSize = new TextEncoder().encode(program).byteLength;
    const packages = await npmPackages();
    const commit = await gitCommit();

    const header = [
      `// ${config.name ?? "dangerzone-image"} ${
        config.version ?? ""
      }: the whole program in one file.`,
      "// Run: deno run --no-config [permissions] dangerzone-image.js <command> …",
      `// Built by scripts/bundle.ts with deno bundle (Deno ${Deno.version.deno})` +
      (commit ? ` from commit ${commit}` : "") + ".",
      `// npm packages (pinned by deno.lock): ${packages.join(", ")}.`,
      "// The dispatcher comes first; the commands are the string __dzProgramSource() at the",
      "// end, compiled by __dzProgram() (and node: modules loaded) only when a command runs.",
      "",
    ].join("\n");
    const text = header + LOADER + dispatcher.code.trimEnd() + "\n\n" + program;
    const bytes = new TextEncoder().encode(text);
    await writeFileAtomic(out, bytes, { mode: 0o644 });
    return {
      path: out,
      size: bytes.byteLength,
      programSize,
      commands: dispatcher.commands,
      npmPackages: packages,
    };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** The script; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let out = DEFAULT_OUT;
  if (args[0] === "--out" && args.length === 2) out = args[1];
  else if (args.length !== 0) {
    console.error("usage: deno task bundle [--out FILE]");
    return 2;
  }
  try {
    const b = await buildBundle(out);
    console.error(
      `wrote ${b.path}: ${b.size} bytes (commands and dependencies ${b.programSize} bytes; ` +
        `${b.commands.length} commands)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BundleError) {
      console.error(`bundle: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
