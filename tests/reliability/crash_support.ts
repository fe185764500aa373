/**
 * Support for the crash-safety (`kill -9`) and concurrency tests: run the
 * real CLI as a subprocess and SIGKILL it, either after a random delay or
 * right before its k-th file-system mutation, then inspect what it left on
 * disk (data dir, OCI store, auth file) for torn or inconsistent state.
 *
 * Run as a program, this module is the kill hook: it wraps the mutating
 * `Deno.*` file-system calls, then runs `mod.ts` with its arguments.
 *
 * ```sh
 * DZ_CRASH_KILL_AT=7 deno run -A tests/reliability/crash_support.ts upgrade …
 * ```
 *
 * - `DZ_CRASH_KILL_AT=k`: the process sends itself SIGKILL right before its
 *   k-th mutating call (1-based), after printing `dz-crash: kill before #k …`
 *   on stderr. Everything written before stays on disk, exactly as after a
 *   real crash; nothing after happens.
 * - `DZ_CRASH_KILL_MATCH=regex`: count only the calls whose description
 *   (`rename /a -> /b`, `write /x/lock`, …) matches.
 * - `DZ_CRASH_COUNT_FILE=path`: when the command ends normally, write the
 *   mutating calls it made there, `{ops, times}` (descriptions, and ms since
 *   the process started), to pick k or a moment within the writing phase.
 *
 * @module
 */

import { join, relative } from "node:path";
import { createHash } from "node:crypto";
import { OciLayout, REF_NAME } from "../../lib/oci/layout.ts";
import { parseImageManifest } from "../../lib/oci/manifest.ts";
import { imageStatePath, readImageState } from "../../lib/store/rollback_state.ts";
import { readLastLogIndex } from "../../lib/store/last_log_index.ts";
import { repositoryOf } from "../../lib/signatures/signed_identity.ts";
import { readSignatures } from "../../lib/store/signature_store.ts";
import { installedPath, readInstalled } from "../../lib/update/installed.ts";
import { sha256Digest } from "../../lib/digest/digest.ts";

/** Project root (where `mod.ts` and `deno.json` are). */
export const PROJECT_ROOT = new URL("../../", import.meta.url).pathname;
/** `mod.ts`. */
export const MOD_TS = join(PROJECT_ROOT, "mod.ts");
/** This file, the kill-hook runner. */
export const KILL_HOOK = new URL(import.meta.url).pathname;

// ---------------------------------------------------------------------------
// The kill hook (runs inside the child).

type AnyFn = (...args: unknown[]) => unknown;

function describe(name: string, args: unknown[]): string {
  const p = (v: unknown) => (v instanceof URL ? v.pathname : String(v));
  if (name === "rename" || name === "link" || name === "copyFile" || name === "symlink") {
    return `${name} ${p(args[0])} -> ${p(args[1])}`;
  }
  if (name === "makeTempDir") {
    const o = (args[0] ?? {}) as { dir?: string; prefix?: string };
    return `makeTempDir ${o.dir ?? ""}/${o.prefix ?? ""}*`;
  }
  return `${name} ${p(args[0])}`;
}

function isWriteOpen(options: unknown): boolean {
  const o = (options ?? {}) as Deno.OpenOptions;
  return !!(o.write || o.append || o.create || o.createNew || o.truncate);
}

/**
 * Wrap the mutating file-system calls of `Deno` so that `onOp(description)`
 * runs right before each one. Returns the list of descriptions seen.
 */
export function installMutationHook(onOp: (desc: string) => void): void {
  const d = Deno as unknown as Record<string, AnyFn>;
  const paths = new WeakMap<Deno.FsFile, string>();
  const plain = [
    "rename",
    "link",
    "remove",
    "mkdir",
    "makeTempDir",
    "writeFile",
    "writeTextFile",
    "copyFile",
    "chmod",
    "symlink",
    "truncate",
  ];
  for (const name of plain) {
    for (const n of [name, `${name}Sync`]) {
      const orig = d[n];
      if (typeof orig !== "function") continue;
      d[n] = function (this: unknown, ...args: unknown[]) {
        onOp(describe(name, args));
        return orig.apply(Deno, args);
      };
    }
  }
  for (const n of ["open", "openSync"]) {
    const orig = d[n];
    d[n] = function (this: unknown, ...args: unknown[]) {
      const path = args[0] instanceof URL ? args[0].pathname : String(args[0]);
      if (isWriteOpen(args[1])) onOp(`open ${path}`);
      const r = orig.apply(Deno, args);
      if (r instanceof Promise) {
        return r.then((f: Deno.FsFile) => (paths.set(f, path), f));
      }
      paths.set(r as Deno.FsFile, path);
      return r;
    };
  }
  const proto = Deno.FsFile.prototype as unknown as Record<string, AnyFn>;
  for (const n of ["write", "writeSync", "sync", "syncSync", "syncData", "truncate"]) {
    const orig = proto[n];
    if (typeof orig !== "function") continue;
    proto[n] = function (this: Deno.FsFile, ...args: unknown[]) {
      onOp(`${n.replace("Sync", "")} ${paths.get(this) ?? "?"}`);
      return orig.apply(this, args);
    };
  }
}

async function runHooked(): Promise<never> {
  const killAt = Number(Deno.env.get("DZ_CRASH_KILL_AT") ?? "0");
  const matchSrc = Deno.env.get("DZ_CRASH_KILL_MATCH");
  const match = matchSrc ? new RegExp(matchSrc) : undefined;
  const countFile = Deno.env.get("DZ_CRASH_COUNT_FILE");
  const seen: string[] = [];
  const times: number[] = [];
  const origWrite = Deno.writeTextFileSync;
  installMutationHook((desc) => {
    if (match && !match.test(desc)) return;
    seen.push(desc);
    times.push(performance.now()); // ms since the process started
    if (seen.length === killAt) {
      Deno.stderr.writeSync(new TextEncoder().encode(`dz-crash: kill before #${killAt} ${desc}\n`));
      Deno.kill(Deno.pid, "SIGKILL");
      for (;;) { /* SIGKILL is delivered before kill() returns */ }
    }
  });
  const { main } = await import("../../mod.ts");
  const code = await main(Deno.args);
  if (countFile) origWrite(countFile, JSON.stringify({ ops: seen, times }));
  Deno.exit(code);
}

// ---------------------------------------------------------------------------
// Running the CLI.

/** How a run of the CLI ended. */
export interface CliRun {
  code: number;
  /** "SIGKILL" when killed. */
  signal: string | null;
  /** Killed by us (timer or hook) before it ended on its own. */
  killed: boolean;
  /** Killed by the per-run timeout (a hang). */
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Options of {@linkcode runCli}. */
export interface RunOptions {
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /** Written to the child's stdin (then closed). */
  stdin?: string;
  /** SIGKILL the child this many milliseconds after spawning it. */
  killAfterMs?: number;
  /** Run through the kill hook, killing before the k-th mutating call. */
  killAtOp?: number;
  /** Only count calls whose description matches (with `killAtOp`). */
  killMatch?: string;
  /** Run through the kill hook and record the mutating calls here. */
  countFile?: string;
  /** SIGKILL and report `timedOut` after this long (default 90 s). */
  timeoutMs?: number;
}

/** Run `deno run -A mod.ts <args>` (or the kill hook) as a subprocess. */
export async function runCli(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const hooked = options.killAtOp !== undefined || options.countFile !== undefined;
  const env: Record<string, string> = { ...options.env };
  if (options.killAtOp !== undefined) env.DZ_CRASH_KILL_AT = String(options.killAtOp);
  if (options.killMatch !== undefined) env.DZ_CRASH_KILL_MATCH = options.killMatch;
  if (options.countFile !== undefined) env.DZ_CRASH_COUNT_FILE = options.countFile;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", hooked ? KILL_HOOK : MOD_TS, ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  let killedByTimer = false;
  let timedOut = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  let exited = false;
  const kill = () => {
    if (exited) return false;
    try {
      child.kill("SIGKILL");
      return true;
    } catch {
      return false; // already gone
    }
  };
  if (options.killAfterMs !== undefined) {
    timers.push(setTimeout(() => {
      killedByTimer = kill();
    }, options.killAfterMs));
  }
  timers.push(setTimeout(() => {
    timedOut = kill();
  }, options.timeoutMs ?? 90_000));
  const out = await child.output();
  exited = true;
  for (const t of timers) clearTimeout(t);
  const dec = new TextDecoder();
  const stderr = dec.decode(out.stderr);
  return {
    code: out.code,
    signal: out.signal,
    killed: out.signal === "SIGKILL" &&
      (killedByTimer || (options.killAtOp !== undefined && stderr.includes("dz-crash: kill"))),
    timedOut,
    stdout: dec.decode(out.stdout),
    stderr,
    ms: performance.now() - t0,
  };
}

/**
 * The mutating calls of an uninterrupted run (runs the command once):
 * descriptions, and when each happened (ms since the process started).
 */
export async function countMutations(
  args: string[],
  options: Omit<RunOptions, "killAtOp" | "countFile" | "killAfterMs"> = {},
): Promise<{ run: CliRun; ops: string[]; times: number[] }> {
  const file = await Deno.makeTempFile({ prefix: "dz-crash-count-" });
  try {
    const run = await runCli(args, { ...options, countFile: file });
    const text = await Deno.readTextFile(file);
    const doc = text ? JSON.parse(text) : { ops: [], times: [] };
    return { run, ops: doc.ops, times: doc.times };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Seeds and small helpers.

/** The seed: `$DZ_SEED` when set (a number), else `fallback`. */
export function seedFromEnv(fallback: number): number {
  const s = Deno.env.get("DZ_SEED");
  if (s === undefined || s === "") return fallback;
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`DZ_SEED must be an integer, got ${s}`);
  return n;
}

/** A positive integer from the environment variable `name`, else `fallback`. */
export function countFromEnv(name: string, fallback: number): number {
  const s = Deno.env.get(name);
  if (s === undefined || s === "") return fallback;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a count, got ${s}`);
  return n;
}

/** Copy a directory tree (files and directories only), keeping file modes. */
export async function copyTree(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    const s = join(src, e.name);
    const d = join(dst, e.name);
    if (e.isDirectory) await copyTree(s, d);
    else if (e.isFile) await Deno.copyFile(s, d);
  }
}

/** Every regular file under `dir` (relative paths, sorted); [] when absent. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Relative path → size and mtime of every file under `dir` (to see whether a run wrote). */
export async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const rel of await listFiles(dir)) {
    const st = await Deno.stat(join(dir, rel)).catch(() => undefined);
    parts.push(`${rel}:${st?.size}:${st?.mtime?.getTime()}`);
  }
  return parts.join("\n");
}

/** A temp file of `lib/fs/atomic.ts` (`.<name>.<hex>.tmp`). */
export function isAtomicTemp(path: string): boolean {
  return /(^|\/)\.[^/]+\.[0-9a-f]{12}\.tmp$/.test(path);
}

/** A lock file (data dir, OCI store) or a lock's own temp / aside file. */
export function isLockFile(path: string): boolean {
  return /(^|\/)(lock|\.dangerzone-image\.lock)(\.[^/]*)?$/.test(path);
}

async function hasFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return `sha256:${h.digest("hex")}`;
}

// ---------------------------------------------------------------------------
// State checks.

/** What a state check found. */
export interface StateReport {
  /** Violations: torn files, unknown files, claims the runtime does not back. */
  problems: string[];
  /** Leftover temp files / dirs (allowed, but counted). */
  leftovers: string[];
  /** Lock files present. */
  locks: string[];
  /** The record names another image than the store holds (a kill in the commit window). */
  staleRecord: boolean;
  /** Installed record's signed digest, if any. */
  recordDigest?: string;
  /** Digest the store holds under the image name, if any. */
  storeDigest?: string;
  /** Digests the rollback state names. */
  rollbackDigests: string[];
}

/** Where an update's state lives. */
export interface UpdateState {
  dataDir: string;
  storeDir: string;
  keyId: string;
  imageName: string;
}

const LOCK_NAME = /(^|\/)(lock|\.dangerzone-image\.lock)$/;

async function checkLock(path: string, problems: string[]): Promise<void> {
  if (!LOCK_NAME.test(path)) return; // temp / set-aside names
  try {
    const doc = JSON.parse(await Deno.readTextFile(path));
    if (typeof doc?.pid !== "number" || typeof doc?.nonce !== "string") {
      problems.push(`lock ${path} has no owner: ${JSON.stringify(doc)}`);
    }
  } catch (e) {
    problems.push(
      `lock ${path} is torn (${(e as Error).message}): a rerun cannot tell it is stale`,
    );
  }
}

/**
 * Check the data dir and OCI store an `upgrade` / `load-archive` left:
 * every state file parses, every store blob hashes to its name, every
 * `index.json` entry is a complete image, the installed record matches the
 * store, and the rollback state names no image the store lacks.
 */
export async function checkUpdateState(s: UpdateState): Promise<StateReport> {
  const problems: string[] = [];
  const leftovers: string[] = [];
  const locks: string[] = [];
  const rollbackDigests: string[] = [];
  const recordFile = relative(s.dataDir, installedPath(s.dataDir, s.imageName));

  // Data dir.
  for (const rel of await listFiles(s.dataDir)) {
    const abs = join(s.dataDir, rel);
    if (isLockFile(rel)) {
      if (LOCK_NAME.test(rel)) locks.push(abs);
      else leftovers.push(abs); // a lock's temp or set-aside file
      await checkLock(abs, problems);
    } else if (isAtomicTemp(rel)) {
      leftovers.push(abs);
    } else if (rel.startsWith("tmp/")) {
      // An archive extraction dir a killed load-archive left (one per dir).
      const top = join(s.dataDir, rel.split("/").slice(0, 2).join("/"));
      if (!leftovers.includes(top)) leftovers.push(top);
    } else if (rel === relative(s.dataDir, imageStatePath(s.dataDir, repositoryOf(s.imageName)!))) {
      try {
        const st = await readImageState(s.dataDir, repositoryOf(s.imageName)!);
        if (st) rollbackDigests.push(st.digest);
      } catch (e) {
        problems.push(`rollback state unreadable: ${(e as Error).message}`);
      }
    } else if (rel === "signatures/last_log_index" || rel === "rollback/last_log_index.json") {
      try {
        await readLastLogIndex(s.dataDir);
      } catch (e) {
        problems.push(`last_log_index unreadable: ${(e as Error).message}`);
      }
    } else if (new RegExp(`^signatures/${s.keyId}/[0-9a-f]{64}\\.json$`).test(rel)) {
      const hex = rel.slice(-69, -5);
      try {
        const sigs = await readSignatures(s.dataDir, s.keyId, `sha256:${hex}`);
        if (!sigs || sigs.length === 0) problems.push(`${rel}: empty signature list`);
      } catch (e) {
        problems.push(`${rel} unreadable: ${(e as Error).message}`);
      }
    } else if (rel === recordFile) {
      // read below
    } else if (/^partial\/[0-9a-f]{64}$/.test(rel)) {
      // The resume area: a blob cut by the kill, kept to continue (re-hashed before reuse).
    } else {
      problems.push(`unexpected file in the data dir: ${rel}`);
    }
  }
  let record;
  try {
    record = await readInstalled(s.dataDir, s.imageName);
  } catch (e) {
    problems.push(`installed record unreadable: ${(e as Error).message}`);
  }

  // Store: blobs hash to their names; index entries are complete images.
  for (const rel of await listFiles(s.storeDir)) {
    const abs = join(s.storeDir, rel);
    if (isLockFile(rel)) {
      if (LOCK_NAME.test(rel)) locks.push(abs);
      else leftovers.push(abs); // a lock's temp or set-aside file
      await checkLock(abs, problems);
    } else if (isAtomicTemp(rel)) {
      leftovers.push(abs);
    } else if (rel === "index.json" || rel === "oci-layout") {
      try {
        JSON.parse(await Deno.readTextFile(abs));
      } catch (e) {
        problems.push(`store ${rel} is torn: ${(e as Error).message}`);
      }
    } else if (/^blobs\/sha256\/[0-9a-f]{64}$/.test(rel)) {
      const want = `sha256:${rel.slice(-64)}`;
      const got = await sha256File(abs);
      if (got !== want) problems.push(`store blob ${want} holds bytes hashing to ${got}`);
    } else {
      problems.push(`unexpected file in the store: ${rel}`);
    }
  }
  let storeDigest: string | undefined;
  let storeImageId: string | undefined;
  const storeFiles = await listFiles(s.storeDir);
  if (storeFiles.includes("index.json") && !storeFiles.includes("oci-layout")) {
    // Killed while creating the store (index.json is written first): the next
    // run re-creates it, which is only harmless while it names no image.
    try {
      const index = JSON.parse(await Deno.readTextFile(join(s.storeDir, "index.json")));
      if (index?.manifests?.length !== 0) {
        problems.push("store without oci-layout names images (the next run would drop them)");
      }
    } catch {
      // reported above as torn
    }
  } else if (storeFiles.includes("index.json")) {
    try {
      const layout = await OciLayout.open(s.storeDir);
      for (const entry of (await layout.index()).manifests) {
        const bytes = await layout.readBlobBytes(entry);
        const m = parseImageManifest(bytes, `store manifest ${entry.digest}`);
        for (const b of [m.config, ...m.layers]) {
          if (!await layout.hasBlob(b.digest)) {
            problems.push(`store names ${entry.digest}, whose blob ${b.digest} is missing`);
          }
        }
        if (entry.annotations?.[REF_NAME] === s.imageName) {
          storeDigest = entry.digest;
          storeImageId = m.config.digest;
        }
      }
    } catch (e) {
      problems.push(`store unreadable: ${(e as Error).message}`);
    }
  }

  // Cross-checks.
  let staleRecord = false;
  if (record) {
    // The record is written last: after a kill in the commit window the store
    // already holds the new image while the record still names the old one,
    // whose blobs must then still be there (verify-local must refuse, and
    // the next run completes).
    if (record.imageId !== storeImageId) staleRecord = true;
    for (const d of [record.platformDigest, record.imageId]) {
      if (!await hasFile(join(s.storeDir, "blobs", "sha256", d.slice(7)))) {
        problems.push(`installed record names ${d}, which the store lacks`);
      }
    }
    if (!await readSignatures(s.dataDir, s.keyId, record.signedDigest).catch(() => undefined)) {
      problems.push(`installed record ${record.signedDigest} has no stored signatures`);
    }
  }
  for (const d of rollbackDigests) {
    if (d !== record?.signedDigest && d !== storeDigest) {
      problems.push(
        `rollback state claims ${d}, which neither the record (${record?.signedDigest}) nor the store (${storeDigest}) holds`,
      );
    }
  }
  return {
    problems,
    leftovers,
    locks,
    rollbackDigests,
    staleRecord,
    ...(record ? { recordDigest: record.signedDigest } : {}),
    ...(storeDigest ? { storeDigest } : {}),
  };
}

/** Expected content of the auth file around a `login`. */
export interface AuthExpectation {
  /** Entries (other than the registry's) that must survive, exactly. */
  others: Record<string, unknown>;
  /** Top-level keys other than `auths` that must survive. */
  extra: Record<string, unknown>;
  registry: string;
  /** The entry `login` writes. */
  fresh: { auth: string };
  /** The entry before (absent when undefined). */
  before?: { auth: string };
  /** Did the file exist before? */
  existed: boolean;
}

/**
 * Check the auth file a `login` left: absent only if it was absent before;
 * otherwise a complete JSON object, mode 0600, keeping every other entry
 * and key, with the registry's entry either as before or as login writes it.
 * `done` requires the fresh entry.
 */
export async function checkAuthFile(
  path: string,
  want: AuthExpectation,
  done = false,
): Promise<{ problems: string[]; leftovers: string[] }> {
  const problems: string[] = [];
  const leftovers: string[] = [];
  const dir = path.slice(0, path.lastIndexOf("/"));
  const base = path.slice(path.lastIndexOf("/") + 1);
  for (const rel of await listFiles(dir)) {
    if (rel === base) continue;
    if (isAtomicTemp(rel)) leftovers.push(rel);
    else problems.push(`unexpected file beside the auth file: ${rel}`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && !want.existed && !done) return { problems, leftovers };
    problems.push(`auth file missing: ${(e as Error).message}`);
    return { problems, leftovers };
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      throw new Error("not an object");
    }
  } catch (e) {
    problems.push(`auth file torn (${text.length} bytes): ${(e as Error).message}`);
    return { problems, leftovers };
  }
  const mode = (await Deno.stat(path)).mode! & 0o777;
  if (mode !== 0o600) problems.push(`auth file mode ${mode.toString(8)}, not 600`);
  for (const [k, v] of Object.entries(want.extra)) {
    if (JSON.stringify(doc[k]) !== JSON.stringify(v)) problems.push(`auth file lost key ${k}`);
  }
  const auths = (doc.auths ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(want.others)) {
    if (JSON.stringify(auths[k]) !== JSON.stringify(v)) problems.push(`auth file lost entry ${k}`);
  }
  const entry = JSON.stringify(auths[want.registry]);
  const ok = done
    ? [JSON.stringify(want.fresh)]
    : [JSON.stringify(want.fresh), JSON.stringify(want.before)];
  if (!ok.includes(entry)) {
    problems.push(`auth entry of ${want.registry} is ${entry ?? "absent"}`);
  }
  return { problems, leftovers };
}

/** `sha256` hex of a name, as the installed records are named. */
export function nameHash(name: string): string {
  return sha256Digest(name).slice(7);
}

if (import.meta.main) await runHooked();
