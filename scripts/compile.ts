/**
 * `deno task compile [--target T]… [--out-dir DIR] [--embed bundle|npm] [--timeout-seconds N]`:
 * build self-contained `dangerzone-image` binaries with `deno compile`, one
 * per target, into `dist/`, and write `dist/SHA256SUMS` (`sha256sum` format).
 *
 * What is embedded ({@linkcode EMBEDDINGS}): by default (`--embed bundle`)
 * the one-file bundle `dist/dangerzone-image.js` that `scripts/bundle.ts`
 * writes first, compiled with `--no-config` (≈0.43 MB embedded: the same
 * bytes the bundle tests run, no `node_modules`); `--embed npm` compiles
 * `mod.ts` with `--exclude-unused-npm` and no `node_modules` directory
 * (≈4.7 MB embedded: the sources plus the npm packages the graph reaches).
 * Embedding the whole `node_modules` tree (what `deno compile mod.ts` does
 * with this `deno.json`) embeds ≈19.5 MB.
 *
 * `deno compile` needs the Deno runtime stub ("denort") of the pinned Deno
 * version for each target. It takes it, in order, from `DENORT_BIN` (a path
 * to an unpacked `denort` binary; Deno applies it to whatever target is
 * being built, so this script accepts it only with exactly one `--target`),
 * from Deno's download cache (`$DENO_DIR/dl/release/v<version>/denort-<target>.zip`,
 * which can be filled by copying the official zips there on an offline
 * machine), or downloads it from dl.deno.land. When none of these can work
 * this script says so in one line and exits 3 instead of hanging: it probes
 * the download with a short timeout first, and kills `deno compile` after
 * `--timeout-seconds` (default 900).
 *
 * Permissions baked into the binaries ({@linkcode PERMISSION_FLAGS}) are the
 * union of what the commands need, as narrow as a single binary allows:
 * registry, Rekor and file paths are chosen by the user at run time, so net,
 * read and write cannot be scoped here; environment access is limited to the
 * variables the code reads ({@linkcode ENV_VARS}; others read as unset);
 * subprocesses to `podman` and `docker`; `sys` to the host name (update
 * lock). No `--allow-ffi`: loading a native library is equivalent to
 * `--allow-all`, so PKCS#11 signing (a publisher's task) is done with
 * `deno run --allow-ffi=<module> mod.ts sign …`, not with the binaries.
 *
 * Nothing is read from the source tree at run time (the trusted root is
 * imported `with { type: "json" }`, the default key is a module), and every
 * command is a string-literal dynamic import, so no `--include` is needed.
 * `--frozen-lockfile` pins the npm packages to `deno.lock` (the bundle is
 * built with it and type-checked by `deno bundle --check`).
 *
 * A binary built for the host is run once (`--version`) before it is kept.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/fs/atomic.ts";
import { buildBundle, BundleError } from "./bundle.ts";

/** Every target this project ships (`deno compile --target` names). */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/** Environment variables the code reads (others read as unset in the binary). */
export const ENV_VARS: readonly string[] = [
  "HOME",
  "USERPROFILE",
  "LOCALAPPDATA",
  "TMPDIR",
  "PATH",
  "DANGERZONE_IMAGE_DATA_DIR",
  "DANGERZONE_IMAGE_TUF_URL",
  "DANGERZONE_IMAGE_TUF_ROOT",
  "XDG_DATA_HOME",
  "XDG_RUNTIME_DIR",
  "LOCALAPPDATA",
  "TMPDIR",
  "DOCKER_HOST",
  "REGISTRY_AUTH_FILE",
  "DOCKER_CONFIG",
  "DOCKER_HOST",
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "SIGSTORE_REKOR_PUBLIC_KEY",
  "COSIGN_PASSWORD",
  "COSIGN_PKCS11_MODULE_PATH",
  "COSIGN_PKCS11_PIN",
];

/** Container runtimes the binaries may start. */
export const RUN_PROGRAMS: readonly string[] = ["podman", "docker"];

/** The `deno compile` permission flags baked into every binary. */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  `--allow-env=${ENV_VARS.join(",")}`,
  "--ignore-env",
  `--allow-run=${RUN_PROGRAMS.join(",")}`,
  "--allow-sys=hostname",
];

/** Project root (where `deno.json` and `mod.ts` are). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** How the program is embedded (see the module doc). */
export const EMBEDDINGS = ["bundle", "npm"] as const;

/** One of {@linkcode EMBEDDINGS}. */
export type Embedding = typeof EMBEDDINGS[number];

/** File name of the one-file bundle (the entry of `--embed bundle`). */
export const BUNDLE_NAME = "dangerzone-image.js";

/** File name of the binary for `target`. */
export function outputName(target: Target): string {
  return `dangerzone-image-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** Is `s` one of {@linkcode TARGETS}? */
export function isTarget(s: string): s is Target {
  return (TARGETS as readonly string[]).includes(s);
}

/** The host's target name, if it is one this project ships. */
export function hostTarget(): Target | undefined {
  const t = Deno.build.target;
  return isTarget(t) ? t : undefined;
}

/**
 * The `deno` arguments that compile for `target` into `outDir`. `bundle`:
 * `entry` is the one-file bundle (default `outDir/dangerzone-image.js`),
 * compiled without config or lockfile (it imports nothing but `node:`
 * builtins). `npm`: `entry` is `mod.ts`, with the project's config,
 * `--frozen-lockfile` and only the npm packages the graph reaches.
 */
export function compileArgs(
  target: Target,
  options: { entry?: string; outDir?: string; config?: string; embed?: Embedding } = {},
): string[] {
  const outDir = options.outDir ?? join(ROOT, "dist");
  const embed = options.embed ?? "bundle";
  const head = ["compile", "--target", target, "--output", join(outDir, outputName(target))];
  if (embed === "bundle") {
    const entry = options.entry ?? join(outDir, BUNDLE_NAME);
    return [...head, "--no-config", "--no-lock", ...PERMISSION_FLAGS, entry];
  }
  return [
    ...head,
    "--config",
    options.config ?? join(ROOT, "deno.json"),
    "--frozen-lockfile",
    "--node-modules-dir=none",
    "--exclude-unused-npm",
    ...PERMISSION_FLAGS,
    options.entry ?? join(ROOT, "mod.ts"),
  ];
}

/** Where Deno caches the downloaded runtime stub for `target`. */
export function denortCachePath(denoDir: string, version: string, target: Target): string {
  return join(denoDir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/** The official download URL of the runtime stub. */
export function denortUrl(version: string, target: Target): string {
  return `https://dl.deno.land/release/v${version}/denort-${target}.zip`;
}

/** sha256 of a file, streamed, as lowercase hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** `sha256sum`-format lines (`<hex>  <name>`), sorted by name. */
export function sha256sumsText(entries: { name: string; sha256: string }[]): string {
  return entries.slice().sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((e) => `${e.sha256}  ${e.name}\n`).join("");
}

/** A build that cannot go on; its message is the one line users see. */
export class CompileError extends Error {}

/** Parsed command line of this script. */
export interface CompileOptions {
  targets: Target[];
  outDir: string;
  timeoutSeconds: number;
  embed: Embedding;
}

/** Parse this script's arguments. */
export function parseCompileArgs(args: string[]): CompileOptions {
  const targets: Target[] = [];
  let outDir = join(ROOT, "dist");
  let timeoutSeconds = 900;
  let embed: Embedding = "bundle";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new CompileError(`${a} needs a value`);
      return v;
    };
    if (a === "--target") {
      const t = value();
      if (!isTarget(t)) {
        throw new CompileError(`unknown target '${t}' (one of ${TARGETS.join(", ")})`);
      }
      if (!targets.includes(t)) targets.push(t);
    } else if (a === "--out-dir") outDir = value();
    else if (a === "--embed") {
      const e = value();
      if (!(EMBEDDINGS as readonly string[]).includes(e)) {
        throw new CompileError(`--embed must be one of ${EMBEDDINGS.join(", ")}, not '${e}'`);
      }
      embed = e as Embedding;
    } else if (a === "--timeout-seconds") {
      timeoutSeconds = Number(value());
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
        throw new CompileError("--timeout-seconds needs a positive integer");
      }
    } else {
      throw new CompileError(
        `unknown argument '${a}' (usage: compile.ts [--target T]… [--out-dir DIR] [--embed bundle|npm] [--timeout-seconds N])`,
      );
    }
  }
  return { targets: targets.length ? targets : [...TARGETS], outDir, timeoutSeconds, embed };
}

/** How the runtime stub for a target will be found. */
export type StubSource =
  | { kind: "DENORT_BIN"; path: string }
  | { kind: "cache"; path: string }
  | { kind: "download"; url: string };

/**
 * Decide where `deno compile` gets the stub for each target, failing early
 * (with what to do) when it cannot. `probe` checks a download URL is
 * reachable within a short time (injectable for tests).
 */
export async function planStubs(
  targets: Target[],
  env: { denortBin?: string; denoDir: string; version: string; denoExec: string },
  probe: (url: string) => Promise<string | undefined> = probeUrl,
): Promise<Map<Target, StubSource>> {
  const plan = new Map<Target, StubSource>();
  if (env.denortBin) {
    if (targets.length !== 1) {
      throw new CompileError(
        "DENORT_BIN supplies the runtime stub of one target; pass exactly one --target",
      );
    }
    let real: string;
    try {
      real = await Deno.realPath(env.denortBin);
      if (!(await Deno.stat(real)).isFile) throw new Error("not a file");
    } catch (e) {
      throw new CompileError(`DENORT_BIN=${env.denortBin} is not a file: ${(e as Error).message}`);
    }
    if (real === await Deno.realPath(env.denoExec).catch(() => env.denoExec)) {
      throw new CompileError(
        `DENORT_BIN=${env.denortBin} is the deno CLI itself, not the runtime stub; ` +
          `use the 'denort' binary from denort-${targets[0]}.zip of Deno ${env.version}`,
      );
    }
    plan.set(targets[0], { kind: "DENORT_BIN", path: env.denortBin });
    return plan;
  }
  for (const t of targets) {
    const cached = denortCachePath(env.denoDir, env.version, t);
    try {
      if ((await Deno.stat(cached)).isFile) {
        plan.set(t, { kind: "cache", path: cached });
        continue;
      }
    } catch {
      // not cached
    }
    const url = denortUrl(env.version, t);
    const problem = await probe(url);
    if (problem !== undefined) {
      throw new CompileError(
        `the Deno runtime stub for ${t} is not available offline and cannot be downloaded ` +
          `(${url}: ${problem}); on this machine set DENORT_BIN=/path/to/denort with one --target, ` +
          `or copy denort-${t}.zip of Deno ${env.version} to ${cached}`,
      );
    }
    plan.set(t, { kind: "download", url });
  }
  return plan;
}

/** HEAD `url` with a 10 s timeout; undefined when reachable, else why not. */
export async function probeUrl(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (e) {
    return e instanceof DOMException && e.name === "TimeoutError"
      ? "timed out"
      : [e, (e as Error).cause].filter((x) => x instanceof Error).map((x) =>
        (x as Error).message.split("\n")[0]
      ).join(": ");
  }
}

/** Run `deno compile …`, killing it after `timeoutSeconds`; resolves with its stderr tail. */
async function runCompile(
  args: string[],
  env: Record<string, string>,
  timeoutSeconds: number,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutSeconds * 1000);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  if (timedOut) {
    throw new CompileError(
      `deno compile did not finish within ${timeoutSeconds}s (killed); is the network hanging? ` +
        "supply the runtime stub offline with DENORT_BIN",
    );
  }
  if (!out.success) {
    // deno prints a chain of causes; the first line after "error:" says what went wrong.
    // deno-lint-ignore no-control-regex
    const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
    const line = plain.split("\n").find((l) => l.startsWith("error:")) ??
      plain.trim().split("\n").pop() ?? `exit ${out.code}`;
    const causes = plain.split("\n").filter((l) => /^\s+\d+: /.test(l)).map((l) => l.trim());
    throw new CompileError(
      `deno compile failed: ${line}${causes.length ? ` (${causes.join("; ")})` : ""}`,
    );
  }
}

/** Run the built host binary once; it must identify itself. */
async function smokeTest(path: string): Promise<void> {
  const child = new Deno.Command(path, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !text.startsWith("dangerzone-image ")) {
    await Deno.remove(path).catch(() => {});
    throw new CompileError(
      `${basename(path)} does not run as dangerzone-image (said '${text.slice(0, 80)}'); ` +
        "removed it: is DENORT_BIN the denort of the same Deno version?",
    );
  }
}

/** The whole build; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const opts = parseCompileArgs(args);
    const info = JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
          .output()).stdout,
      ),
    ) as { denoDir: string };
    const denortBin = Deno.env.get("DENORT_BIN") || undefined;
    const plan = await planStubs(opts.targets, {
      denortBin,
      denoDir: info.denoDir,
      version: Deno.version.deno,
      denoExec: Deno.execPath(),
    });
    await Deno.mkdir(opts.outDir, { recursive: true });
    if (opts.embed === "bundle") {
      const b = await buildBundle(join(opts.outDir, BUNDLE_NAME));
      console.error(`wrote ${b.path} (${b.size} bytes), the program every binary embeds`);
    }
    const env: Record<string, string> = denortBin ? { DENORT_BIN: denortBin } : {};
    for (const target of opts.targets) {
      const src = plan.get(target)!;
      console.error(
        `compiling ${outputName(target)} (runtime stub: ${
          src.kind === "download" ? src.url : `${src.kind} ${src.path}`
        })`,
      );
      await runCompile(
        compileArgs(target, { outDir: opts.outDir, embed: opts.embed }),
        env,
        opts.timeoutSeconds,
      );
      if (target === hostTarget()) await smokeTest(join(opts.outDir, outputName(target)));
    }
    // SHA256SUMS covers the bundle and every shipped binary present in the output directory.
    const entries: { name: string; sha256: string }[] = [];
    for (const name of [BUNDLE_NAME, ...TARGETS.map(outputName)]) {
      const p = join(opts.outDir, name);
      try {
        await Deno.stat(p);
      } catch {
        continue;
      }
      entries.push({ name, sha256: await sha256File(p) });
    }
    const sums = sha256sumsText(entries);
    await writeFileAtomic(join(opts.outDir, "SHA256SUMS"), new TextEncoder().encode(sums), {
      mode: 0o644,
    });
    console.log(sums.trimEnd());
    console.error(`wrote ${join(opts.outDir, "SHA256SUMS")} (check with: sha256sum -c SHA256SUMS)`);
    return 0;
  } catch (e) {
    if (e instanceof CompileError || e instanceof BundleError) {
      console.error(`compile: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
