/**
 * `scripts/compile.ts`: the command line per target, flags that exist in the
 * pinned Deno, a module graph `deno compile` can embed whole (no dynamic
 * imports of computed paths, no source files read at run time, data
 * imported), the baked environment allow-list covering what the code reads,
 * and a build that either works or fails in one clear line (never hangs).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { buildBundle } from "./bundle.ts";
import {
  BUNDLE_NAME,
  compileArgs,
  denortCachePath,
  EMBEDDINGS,
  ENV_VARS,
  hostTarget,
  outputName,
  parseCompileArgs,
  PERMISSION_FLAGS,
  planStubs,
  ROOT,
  sha256File,
  sha256sumsText,
  TARGETS,
} from "./compile.ts";

const decoder = new TextDecoder();
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

async function deno(args: string[], env: Record<string, string> = {}, clearEnv = false) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    clearEnv,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout).replace(ANSI, ""),
    stderr: decoder.decode(out.stderr).replace(ANSI, ""),
  };
}

/** Every local source file `deno compile` embeds: the local modules of mod.ts's graph. */
async function runtimeSources(): Promise<string[]> {
  const info = await deno(["info", "--json", "mod.ts"]);
  assert.equal(info.code, 0, info.stderr);
  const graph = JSON.parse(info.stdout) as { modules: { specifier: string }[] };
  const files = graph.modules.map((m) => m.specifier)
    .filter((s) => s.startsWith("file://") && s.endsWith(".ts"))
    .map((s) => new URL(s).pathname);
  assert.ok(files.length > 20, "the graph holds the commands and lib/");
  return files.sort();
}

Deno.test("compile: one command line per target and embedding, with the baked permissions", () => {
  assert.equal(TARGETS.length, 5);
  for (const embed of EMBEDDINGS) {
    const names = new Set<string>();
    for (const t of TARGETS) {
      const args = compileArgs(t, {
        outDir: "/out",
        entry: "/src/entry",
        config: "/src/deno.json",
        embed,
      });
      assert.equal(args[0], "compile");
      assert.equal(args[args.indexOf("--target") + 1], t);
      const output = args[args.indexOf("--output") + 1];
      assert.equal(output, `/out/${outputName(t)}`);
      names.add(output);
      assert.equal(args.at(-1), "/src/entry");
      if (embed === "npm") {
        assert.equal(args[args.indexOf("--config") + 1], "/src/deno.json");
        assert.ok(args.includes("--frozen-lockfile"));
        assert.ok(args.includes("--exclude-unused-npm"));
        assert.ok(args.includes("--node-modules-dir=none"), "no node_modules tree embedded");
      } else {
        // The bundle imports nothing but node: builtins: no config, lockfile or npm.
        assert.ok(args.includes("--no-config") && args.includes("--no-lock"));
      }
      for (const f of PERMISSION_FLAGS) assert.ok(args.includes(f), f);
      // Never everything, never unchecked, never FFI (which is --allow-all in disguise).
      for (const bad of ["-A", "--allow-all", "--no-check", "--allow-ffi", "--allow-import"]) {
        assert.ok(!args.some((a) => a === bad || a.startsWith(`${bad}=`)), bad);
      }
    }
    assert.equal(names.size, 5, "distinct outputs");
  }
  // The default embedding is the bundle in the output directory.
  assert.equal(compileArgs(TARGETS[0], { outDir: "/out" }).at(-1), `/out/${BUNDLE_NAME}`);
  assert.equal(outputName("x86_64-pc-windows-msvc"), "dangerzone-image-x86_64-pc-windows-msvc.exe");
  assert.equal(outputName("aarch64-apple-darwin"), "dangerzone-image-aarch64-apple-darwin");
  const run = PERMISSION_FLAGS.find((f) => f.startsWith("--allow-run="));
  assert.equal(run, "--allow-run=podman,docker");
  assert.ok(PERMISSION_FLAGS.includes("--ignore-env"), "unlisted variables read as unset");
});

Deno.test("compile: argument parsing selects targets and rejects unknown ones", () => {
  assert.deepEqual(parseCompileArgs([]).targets, [...TARGETS]);
  assert.deepEqual(
    parseCompileArgs(["--target", "aarch64-apple-darwin", "--target", "aarch64-apple-darwin"])
      .targets,
    ["aarch64-apple-darwin"],
  );
  assert.equal(parseCompileArgs(["--out-dir", "/x"]).outDir, "/x");
  assert.equal(parseCompileArgs([]).embed, "bundle");
  assert.equal(parseCompileArgs(["--embed", "npm"]).embed, "npm");
  assert.throws(() => parseCompileArgs(["--embed", "tree"]), /--embed must be one of/);
  assert.throws(() => parseCompileArgs(["--target", "riscv64-linux"]), /unknown target/);
  assert.throws(() => parseCompileArgs(["--target"]), /needs a value/);
  assert.throws(() => parseCompileArgs(["--frobnicate"]), /unknown argument/);
  assert.throws(() => parseCompileArgs(["--timeout-seconds", "-1"]), /positive integer/);
});

Deno.test("compile: every flag used exists in the pinned Deno's `deno compile --help`", async () => {
  const help = await deno(["compile", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  const known = new Set(help.stdout.match(/--[a-z][a-z0-9-]*/g) ?? []);
  const used = EMBEDDINGS.flatMap((embed) => compileArgs(TARGETS[0], { embed }))
    .filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]);
  assert.ok(used.length >= 16);
  for (const flag of used) assert.ok(known.has(flag), `${flag} is not in deno compile --help`);
  // And the target names are Deno's: `deno compile --target` rejects others.
  const bad = await deno(["compile", "--target", "nonsense-target", "--output", "/dev/null", "x"]);
  assert.notEqual(bad.code, 0);
});

Deno.test("compile: SHA256SUMS is sha256sum's format and checks with sha256sum -c", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "b"), "second");
    await Deno.writeTextFile(join(dir, "a"), "first");
    const text = sha256sumsText([
      { name: "b", sha256: await sha256File(join(dir, "b")) },
      { name: "a", sha256: await sha256File(join(dir, "a")) },
    ]);
    assert.match(text, /^[0-9a-f]{64} {2}a\n[0-9a-f]{64} {2}b\n$/);
    await Deno.writeTextFile(join(dir, "SHA256SUMS"), text);
    const ok = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: dir })
      .output();
    assert.equal(ok.code, 0);
    await Deno.writeTextFile(join(dir, "a"), "tampered");
    const bad = await new Deno.Command("sha256sum", {
      args: ["-c", "SHA256SUMS"],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).output();
    assert.notEqual(bad.code, 0, "a changed binary fails the check");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: runtime stub planning (DENORT_BIN, cache, download) fails early and clearly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = { denoDir: dir, version: "2.9.6", denoExec: Deno.execPath() };
    const reachable = () => Promise.resolve(undefined);
    const offline = () => Promise.resolve("dns error");
    // Nothing cached, nothing reachable: one clear error naming DENORT_BIN.
    await assert.rejects(
      () => planStubs(["x86_64-apple-darwin"], env, offline),
      (e: Error) => /not available offline/.test(e.message) && /DENORT_BIN/.test(e.message),
    );
    const plan = await planStubs(["x86_64-apple-darwin"], env, reachable);
    assert.equal(plan.get("x86_64-apple-darwin")?.kind, "download");
    // A cached zip needs no network.
    const cached = denortCachePath(dir, "2.9.6", "aarch64-apple-darwin");
    await Deno.mkdir(join(cached, ".."), { recursive: true });
    await Deno.writeFile(cached, new Uint8Array([0x50, 0x4b]));
    assert.equal(
      (await planStubs(["aarch64-apple-darwin"], env, offline)).get("aarch64-apple-darwin")?.kind,
      "cache",
    );
    // DENORT_BIN: one target only; must exist; must not be the deno CLI.
    const stub = join(dir, "denort");
    await Deno.writeFile(stub, new Uint8Array([1]));
    await assert.rejects(
      () => planStubs([...TARGETS], { ...env, denortBin: stub }, reachable),
      /exactly one --target/,
    );
    await assert.rejects(
      () => planStubs([TARGETS[0]], { ...env, denortBin: join(dir, "absent") }, reachable),
      /not a file/,
    );
    await assert.rejects(
      () => planStubs([TARGETS[0]], { ...env, denortBin: Deno.execPath() }, reachable),
      /deno CLI itself/,
    );
    const ok = await planStubs([TARGETS[1]], { ...env, denortBin: stub }, offline);
    assert.deepEqual(ok.get(TARGETS[1]), { kind: "DENORT_BIN", path: stub });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: the module graph is embeddable (literal imports, no source read at run time)", async () => {
  const info = await deno(["info", "--json", "mod.ts"]);
  assert.equal(info.code, 0, info.stderr);
  type Dep = {
    specifier: string;
    code?: { specifier?: string; error?: string };
    type?: { specifier?: string; error?: string };
    isDynamic?: boolean;
  };
  const graph = JSON.parse(info.stdout) as {
    modules: { specifier: string; kind?: string; error?: string; dependencies?: Dep[] }[];
  };
  const local = graph.modules.filter((m) => m.specifier.startsWith("file://"));
  for (const m of graph.modules) assert.equal(m.error, undefined, `${m.specifier}: ${m.error}`);
  for (const m of local) {
    for (const d of m.dependencies ?? []) {
      assert.equal(d.code?.error, undefined, `${m.specifier} → ${d.specifier}: ${d.code?.error}`);
    }
    // Everything embedded comes from this repository (or npm / node: builtins).
    assert.ok(m.specifier.startsWith(`file://${ROOT}`), m.specifier);
  }
  // Every command is reachable from mod.ts (string-literal dynamic imports).
  const names = new Set(local.map((m) => relative(ROOT, new URL(m.specifier).pathname)));
  for await (const e of Deno.readDir(join(ROOT, "commands"))) {
    if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
      assert.ok(names.has(`commands/${e.name}`), `commands/${e.name} not in the graph`);
    }
  }
  // The trusted root is imported as data, so it is embedded.
  assert.ok(names.has("lib/trust/public_good_trusted_root.json"));
  // `mod.ts --help` loads only the dispatcher: its static imports are the option table,
  // the argument parser, the command registry (lazy loaders) and deno.json (the version, as
  // data), nothing else.
  const DISPATCHER = [
    "./lib/cli/global_options.ts",
    "./lib/cli/args.ts",
    "./lib/cli/commands.ts",
    "./deno.json",
  ];
  const mod = local.find((m) => m.specifier === `file://${join(ROOT, "mod.ts")}`)!;
  const eager = (mod.dependencies ?? []).filter((d) => d.code && !d.isDynamic);
  assert.deepEqual(
    eager.map((d) => d.specifier).filter((s) => !DISPATCHER.includes(s)),
    [],
    "mod.ts imports code eagerly",
  );

  // The source itself: no computed imports, no reading of source files at run time.
  const forbidden: [RegExp, string][] = [
    [/\bimport\s*\(\s*(?!["'])/, "dynamic import of a computed specifier"],
    [/import\.meta\.(url|dirname|filename|resolve)/, "source location used at run time"],
    [/createRequire\s*\(/, "require() of a computed path"],
    [/\brequire\s*\(\s*(?!["'])/, "require() of a computed path"],
  ];
  for (const file of await runtimeSources()) {
    const text = await Deno.readTextFile(file);
    for (const [re, why] of forbidden) {
      const m = text.match(re);
      assert.equal(m, null, `${relative(ROOT, file)}: ${why}: '${m?.[0]}'`);
    }
  }
});

Deno.test("compile: the baked --allow-env list covers every variable the code reads", async () => {
  const read = new Set<string>();
  const patterns = [
    /\b(?:env|readEnv|Deno\.env\.get)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"/g,
    /process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g,
    /_ENV\s*=\s*"([A-Za-z_][A-Za-z0-9_]*)"/g,
  ];
  for (const file of await runtimeSources()) {
    const text = await Deno.readTextFile(file);
    for (const re of patterns) for (const m of text.matchAll(re)) read.add(m[1]);
  }
  assert.ok(read.has("HOME") && read.has("COSIGN_PASSWORD"), [...read].join(","));
  const missing = [...read].filter((v) => !ENV_VARS.includes(v));
  assert.deepEqual(missing, [], "add these to ENV_VARS in scripts/compile.ts");
});

Deno.test({
  name: "compile: the host build embeds the bundle alone, or the graph without unused npm",
  ignore: hostTarget() === undefined,
  async fn() {
    // The real runtime stub cannot be downloaded here; the deno CLI stands in
    // for it so that `deno compile` runs its full graph and embedding steps
    // with our exact flags. (The output is not runnable: it is the CLI with a
    // payload it ignores; the script refuses this stub.) What the binary adds
    // to its stub is the embedded payload.
    const dir = await Deno.makeTempDir();
    try {
      const cli = (await Deno.stat(Deno.execPath())).size;
      const bundle = await buildBundle(join(dir, BUNDLE_NAME));
      const target = hostTarget()!;
      const env = { DENORT_BIN: Deno.execPath() };
      const b = await deno(compileArgs(target, { outDir: dir, embed: "bundle" }), env);
      assert.equal(b.code, 0, b.stderr);
      const listing = b.stdout + b.stderr;
      assert.ok(listing.includes(BUNDLE_NAME), listing);
      assert.doesNotMatch(listing, /node_modules|\.ts \(/, "nothing but the bundle embedded");
      const payload = (await Deno.stat(join(dir, outputName(target)))).size - cli;
      assert.ok(payload > bundle.size && payload < 8_000_000, `payload ${payload}`);

      const n = await deno(compileArgs(target, { outDir: dir, embed: "npm" }), env);
      assert.equal(n.code, 0, n.stderr);
      const npmListing = n.stdout + n.stderr;
      for (const f of ["public_good_trusted_root.json", "dangerzone_key.ts", "verify.ts"]) {
        assert.ok(npmListing.includes(f), `${f} not embedded`);
      }
      assert.doesNotMatch(
        npmListing,
        /\bmock\b/,
        "npm packages the graph does not reach are left out",
      );
      const npmPayload = (await Deno.stat(join(dir, outputName(target)))).size - cli;
      // @sigstore/sign's bundle builders bring their package's dependencies (its HTTP
      // stack, never loaded) into the npm snapshot: about 17 MB in all.
      assert.ok(npmPayload > payload && npmPayload < 20_000_000, `payload ${npmPayload}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "compile: `deno task compile` builds and checks, or says in one line why it cannot",
  ignore: hostTarget() === undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // The environment of this process, without DENORT_BIN.
      const env = Deno.env.toObject();
      delete env.DENORT_BIN;
      const res = await deno(
        [
          "run",
          "-A",
          "scripts/compile.ts",
          "--target",
          hostTarget()!,
          "--out-dir",
          dir,
          "--timeout-seconds",
          "600",
        ],
        env,
        true,
      );
      if (res.code === 0) {
        // A connected machine: the binary was built and ran; SHA256SUMS checks.
        const sums = await Deno.readTextFile(join(dir, "SHA256SUMS"));
        assert.match(
          sums,
          new RegExp(
            `^[0-9a-f]{64} {2}${outputName(hostTarget()!)}\\n[0-9a-f]{64} {2}${BUNDLE_NAME}\\n$`,
          ),
        );
        const check = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: dir })
          .output();
        assert.equal(check.code, 0);
        const v = await new Deno.Command(join(dir, outputName(hostTarget()!)), {
          args: ["--help"],
          stdout: "piped",
        }).output();
        assert.match(
          decoder.decode(v.stdout),
          /Usage: dangerzone-image \[global options\] <command>/,
        );
      } else {
        assert.equal(res.code, 3, res.stderr);
        const lines = res.stderr.trim().split("\n").filter((l) => l.startsWith("compile:"));
        assert.equal(lines.length, 1, res.stderr);
        assert.match(lines[0], /DENORT_BIN/);
        assert.doesNotMatch(res.stderr, /\n\s+at /, "no stack trace");
        assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing half-written");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
