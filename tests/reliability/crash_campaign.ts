/**
 * Crash safety (issue 10): the real `upgrade`, `load-archive` and `login`
 * commands run as subprocesses and are SIGKILLed at seeded random moments,
 * half of them after a random delay within the writing part (from just
 * before the first write to the end) of an uninterrupted run, half right
 * before a random one of their file-system mutations (through the kill hook
 * of `crash_support.ts`, so the narrow commit windows are hit as often as
 * the long ones). After every kill:
 *
 * - every state file parses (rollback state, signatures, installed record,
 *   store `index.json`, lock files), every store blob hashes to its name,
 *   and nothing unknown (a temp file) is taken for state;
 * - the installed record and the rollback state name only images the
 *   runtime (the `oci:` store) holds;
 * - `verify-local` passes or fails cleanly (exit 1), and when it passes it
 *   describes the image the store holds;
 * - the auth file is never torn or emptied and keeps the other entries;
 * - a plain rerun of the same command finishes the job (a stale lock does
 *   not block it): `verify-local` then passes for the new image, the
 *   credentials are stored, and no lock is left.
 *
 * The campaign has four parts, each run by its own test file so that they
 * run in parallel (`crash_upgrade_test.ts`, `crash_load_archive_test.ts`,
 * `crash_locks_test.ts`, `crash_login_test.ts`); each part draws its cases
 * from its own generator seeded with the same seed.
 *
 * `DZ_SEED=<n>` picks another seed, `DZ_CRASH_RUNS=<n>` the runs per command
 * (default 20), `DZ_CRASH_REPORT=<file>` writes each part's counts as JSON
 * (`<file>.<part>.json`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../../commands/upgrade.ts";
import { command as verifyLocal } from "../../commands/verify-local.ts";
import { command as prepareArchive } from "../../commands/prepare-archive.ts";
import { startSigningLab } from "../helpers/signed_images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { createRng } from "./prng.ts";
import {
  type AuthExpectation,
  checkAuthFile,
  checkUpdateState,
  type CliRun,
  copyTree,
  countFromEnv,
  countMutations,
  fingerprint,
  runCli,
  type RunOptions,
  seedFromEnv,
  type UpdateState,
} from "./crash_support.ts";

type UpdateCommand = "upgrade" | "load-archive";
type Start = "fresh" | "baseline";

const SEED = seedFromEnv(0x0dd_c0de);
const RUNS = countFromEnv("DZ_CRASH_RUNS", 20);

/** Counts for the report. */
interface Tally {
  cases: number;
  /** Really interrupted by SIGKILL (the rest finished before the kill). */
  killed: number;
  finishedBeforeKill: number;
  /** Reruns that finished the job with a consistent, verified state. */
  recovered: number;
  /** Runs whose end state was wrong (lost or unverifiable data). */
  dataLost: number;
  /** Temp files / dirs left by killed runs (harmless, counted). */
  leftovers: number;
  /** Kills that left the installed record behind the store (the commit window). */
  staleRecords: number;
  /** Kill points by what the next mutation would have touched. */
  phases: Record<string, number>;
}

function newTally(): Tally {
  return {
    cases: 0,
    killed: 0,
    finishedBeforeKill: 0,
    recovered: 0,
    dataLost: 0,
    leftovers: 0,
    staleRecords: 0,
    phases: {},
  };
}

/** What the mutation a hooked run was killed before touched, e.g. "rollback state (rename)". */
function phaseOf(stderr: string): string | undefined {
  const m = /dz-crash: kill before #\d+ (\w+) (.*)/.exec(stderr);
  if (!m) return undefined;
  const [, op, target] = m;
  const rules: [RegExp, string][] = [
    [/\/lock(\.|$)|dangerzone-image\.lock/, "lock"],
    [/\/tmp\/archive-|\/data\/tmp/, "archive extraction"],
    [/\/store\/blobs\//, "store blob"],
    [/\/store\/(\.)?index\.json/, "store index.json"],
    [/\/store/, "store layout"],
    [/rollback\.json/, "rollback state"],
    [/\/data\/signatures\//, "signatures"],
    [/\/data\/installed/, "installed record"],
    [/\/data$/, "data dir"],
    [/auth\.json/, "auth file"],
    [/\/login-[^/]+$/, "auth dir"],
  ];
  const what = rules.find(([re]) => re.test(target))?.[1] ?? "other";
  return `${what} (${op})`;
}

/**
 * When timed kills are drawn: from just before the first write of an
 * uninterrupted run (`times`: ms since its process started) to the end of
 * its measured duration. Killing earlier (module loading, verification)
 * cannot leave anything on disk, so those moments are not worth the runs.
 */
function killWindow(times: number[], durationMs: number): [number, number] {
  const lo = Math.max(0, (times[0] ?? 0) - 5);
  return lo < durationMs ? [lo, durationMs] : [0, durationMs];
}

function sinks() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

const silent = sinks().sinks;

function describeRun(r: CliRun): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.timedOut ? " TIMED OUT" : ""}: ${
    (r.stderr + r.stdout).trim().split("\n").slice(-3).join(" | ")
  }`;
}

/** One part of the crash campaign. */
export type CrashPart = "upgrade" | "load-archive" | "locks" | "login";

/** Run one part of the campaign and assert that every case recovered. */
export async function crashCampaign(part: CrashPart): Promise<void> {
  const rng = createRng(SEED);
  await using lab = await startSigningLab();
  const repo = "dz/crash";
  const imageName = `${lab.reg.host}/${repo}:latest`;
  const common = (dir: string) => [
    ...lab.trustArgs,
    "--data-dir",
    join(dir, "data"),
    "--runtime",
    `oci:${join(dir, "store")}`,
    "--progress",
    "none",
  ];
  const stateOf = (dir: string): UpdateState => ({
    dataDir: join(dir, "data"),
    storeDir: join(dir, "store"),
    keyId: lab.key.keyId,
    imageName,
  });
  const verifyLocalIn = async (dir: string) => {
    const s = sinks();
    const code = await verifyLocal.main([imageName, ...common(dir), "--json"], s.sinks);
    return { code, json: code === 0 ? JSON.parse(s.out.join("")) : undefined, err: s.err };
  };

  // v1 installed in a baseline dir; then v2 is the signed `latest` and in an archive
  // (only the update parts need them).
  let base = "";
  let d2 = "";
  let tar = "";
  if (part !== "login") {
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    base = join(lab.dir, "base");
    assert.equal(await upgrade.main([`${lab.reg.host}/${repo}`, ...common(base)], silent), 0);
    d2 = await lab.push(repo, { v: "2", pad: "x".repeat(2048) }, "latest");
    await lab.sign(repo, d2);
    tar = join(lab.dir, "v2.tar");
    if (part !== "upgrade") {
      assert.equal(
        await prepareArchive.main(
          ["--output", tar, imageName, ...lab.trustArgs],
          silent,
        ),
        0,
      );
    }
  }

  const tallies: Record<string, Tally> = {};
  const failures: string[] = [];
  let caseNo = 0;

  const argsFor = (cmd: UpdateCommand, dir: string) =>
    cmd === "upgrade"
      ? ["upgrade", `${lab.reg.host}/${repo}`, ...common(dir), "--json"]
      : ["load-archive", tar, ...common(dir), "--json"];
  const prepare = async (cmd: UpdateCommand, start: Start) => {
    const dir = await Deno.makeTempDir({ dir: lab.dir, prefix: `${cmd}-` });
    if (start === "baseline") await copyTree(base, dir);
    return dir;
  };

  /** One crash case: run with `kill`, check, rerun, check. */
  const updateCase = async (
    cmd: UpdateCommand,
    start: Start,
    kill: RunOptions,
    label: string,
    tally: Tally,
  ) => {
    const dir = await prepare(cmd, start);
    const before = await fingerprint(dir);
    const problems: string[] = [];
    tally.cases++;
    const r = await runCli(argsFor(cmd, dir), kill);
    if (r.killed) {
      tally.killed++;
      const phase = kill.killAtOp !== undefined
        ? phaseOf(r.stderr)
        : `timed (${before === await fingerprint(dir) ? "before any write" : "mid-write"})`;
      if (phase) tally.phases[phase] = (tally.phases[phase] ?? 0) + 1;
    } else if (r.code === 0) {
      tally.finishedBeforeKill++;
    } else {
      problems.push(`the interrupted run failed on its own: ${describeRun(r)}`);
    }
    // The state the crash left.
    const after = await checkUpdateState(stateOf(dir));
    problems.push(...after.problems.map((p) => `after kill: ${p}`));
    tally.leftovers += after.leftovers.length;
    if (after.staleRecord) tally.staleRecords++;
    const vl = await verifyLocalIn(dir);
    if (vl.code !== 0 && vl.code !== 1) {
      problems.push(`verify-local after kill: exit ${vl.code} ${vl.err.join(" ")}`);
    }
    if (vl.code === 0) {
      // Verified must mean: the image the store holds, the one recorded.
      if (vl.json.digest !== after.storeDigest) {
        problems.push(
          `verify-local verified ${vl.json.digest}; the store holds ${after.storeDigest}`,
        );
      }
      // With no record (a fresh install killed before its commit point) verify-local
      // checks as Dangerzone does: the store's digest → its stored, verified signatures.
      if (after.recordDigest !== undefined && vl.json.digest !== after.recordDigest) {
        problems.push(`verify-local verified ${vl.json.digest}, not the record`);
      }
    }
    if (!r.killed && (vl.code !== 0 || vl.json.digest !== d2)) {
      problems.push("a completed run left the new image unverifiable");
    }
    // A plain rerun finishes the job, not blocked by a stale lock.
    const again = await runCli(argsFor(cmd, dir), { timeoutMs: 60_000 });
    if (again.code !== 0) problems.push(`rerun: ${describeRun(again)}`);
    const final = await checkUpdateState(stateOf(dir));
    problems.push(...final.problems.map((p) => `after rerun: ${p}`));
    if (final.locks.length) problems.push(`lock left after rerun: ${final.locks.join(", ")}`);
    const vl2 = await verifyLocalIn(dir);
    const verified = vl2.code === 0 && vl2.json.digest === d2 &&
      final.recordDigest === d2 && final.storeDigest === d2 && !final.staleRecord;
    if (!verified) {
      problems.push(`end state not verified v2: verify-local exit ${vl2.code} ${vl2.err}`);
      tally.dataLost++;
    } else if (problems.length === 0) {
      tally.recovered++;
    }
    if (problems.length) failures.push(`${label}:\n    ${problems.join("\n    ")}`);
    await Deno.remove(dir, { recursive: true });
  };

  /** Duration and mutations of an uninterrupted run (paths shown relative to its dir). */
  const calibrate = async (cmd: UpdateCommand, start: Start, killMatch?: string) => {
    const dir = await prepare(cmd, start);
    const plain = await runCli(argsFor(cmd, dir));
    assert.equal(plain.code, 0, describeRun(plain));
    const dir2 = await prepare(cmd, start);
    const counted = await countMutations(argsFor(cmd, dir2), killMatch ? { killMatch } : {});
    assert.equal(counted.run.code, 0, describeRun(counted.run));
    assert.ok(counted.ops.length > 0, `${cmd}: no mutation seen`);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dir2, { recursive: true });
    return {
      window: killWindow(counted.times, plain.ms),
      ops: counted.ops.map((o) => o.replaceAll(dir2, "<dir>")),
    };
  };

  const updateCampaign = async (cmd: UpdateCommand) => {
    const tally = tallies[cmd] = newTally();
    const calib = {
      fresh: await calibrate(cmd, "fresh"),
      baseline: await calibrate(cmd, "baseline"),
    };
    for (let i = 0; i < RUNS; i++) {
      const start: Start = rng.chance(0.5) ? "baseline" : "fresh";
      const byOp = i % 2 === 1;
      const { window, ops } = calib[start];
      const k = 1 + rng.int(ops.length);
      const delay = Math.floor(window[0] + rng.next() * (window[1] - window[0]));
      const label = `#${++caseNo} ${cmd} from ${start}, ${
        byOp ? `kill before mutation ${k}/${ops.length} (${ops[k - 1]})` : `kill after ${delay} ms`
      } [DZ_SEED=${SEED}]`;
      await updateCase(
        cmd,
        start,
        byOp ? { killAtOp: k } : { killAfterMs: delay },
        label,
        tally,
      );
    }
  };

  // The locks (data dir, store) are the files not written through
  // writeFileAtomic: kill before each of their mutations, every time.
  const lockCampaign = async () => {
    const tally = tallies["lock"] = newTally();
    const match = String.raw`/data/lock|/store/\.dangerzone-image\.lock`;
    const combos = [["upgrade", "baseline"], ["load-archive", "fresh"]] as const;
    for (const [cmd, start] of combos) {
      const { ops } = await calibrate(cmd, start, match);
      for (let k = 1; k <= ops.length; k++) {
        const label =
          `#${++caseNo} ${cmd} from ${start}, kill before lock mutation ${k}/${ops.length} (${
            ops[k - 1]
          })`;
        await updateCase(cmd, start, { killAtOp: k, killMatch: match }, label, tally);
      }
    }
  };

  const loginCampaign = async () => {
    await using reg = await startRegistry({ auth: "htpasswd" });
    const tally = tallies.login = newTally();
    const fresh = { auth: btoa(`${reg.username}:${reg.password}`) };
    const argsOf = ["login", reg.host, "-u", reg.username!, "--password-stdin"];
    const others = {
      "ghcr.io": { auth: btoa("someone:token") },
      "other.example:5000": { auth: btoa("o:p") },
    };
    const extra = { credHelpers: { "gcr.io": "gcloud" }, "HttpHeaders": { "X-A": "b" } };
    const prepareLogin = async (variant: number) => {
      const dir = await Deno.makeTempDir({ dir: lab.dir, prefix: "login-" });
      const file = join(dir, "auth.json");
      const want: AuthExpectation = {
        others: variant === 0 ? {} : others,
        extra: variant === 0 ? {} : extra,
        registry: reg.host,
        fresh,
        existed: variant !== 0,
        ...(variant === 2 ? { before: { auth: btoa(`${reg.username}:old-password`) } } : {}),
      };
      if (variant !== 0) {
        const auths = { ...others, ...(want.before ? { [reg.host]: want.before } : {}) };
        await Deno.writeTextFile(file, JSON.stringify({ auths, ...extra }, null, 2), {
          mode: 0o600,
        });
      }
      return { dir, file, want };
    };
    const opts = (file: string) => ({
      env: { REGISTRY_AUTH_FILE: file },
      stdin: reg.password! + "\n",
    });
    // Calibrate (from the richest start).
    const c1 = await prepareLogin(2);
    const plain = await runCli(argsOf, opts(c1.file));
    assert.equal(plain.code, 0, describeRun(plain));
    const c2 = await prepareLogin(2);
    const counted = await countMutations(argsOf, opts(c2.file));
    assert.equal(counted.run.code, 0, describeRun(counted.run));
    const loginWindow = killWindow(counted.times, plain.ms);
    for (const c of [c1, c2]) {
      assert.deepEqual((await checkAuthFile(c.file, c.want, true)).problems, []);
      await Deno.remove(c.dir, { recursive: true });
    }
    for (let i = 0; i < RUNS; i++) {
      const n = ++caseNo;
      const loginOps = counted.ops.map((o) => o.replaceAll(c2.dir, "<dir>"));
      const variant = rng.int(3);
      const byOp = i % 2 === 1;
      const k = 1 + rng.int(counted.ops.length);
      const delay = Math.floor(loginWindow[0] + rng.next() * (loginWindow[1] - loginWindow[0]));
      const label = `#${n} login (start ${["no file", "other entries", "stale entry"][variant]}), ${
        byOp
          ? `kill before mutation ${k}/${counted.ops.length} (${loginOps[k - 1]})`
          : `kill after ${delay} ms`
      } [DZ_SEED=${SEED}]`;
      const c = await prepareLogin(variant);
      const before = await fingerprint(c.dir);
      const problems: string[] = [];
      tally.cases++;
      const r = await runCli(argsOf, {
        ...opts(c.file),
        ...(byOp ? { killAtOp: k } : { killAfterMs: delay }),
      });
      if (r.killed) {
        tally.killed++;
        const phase = byOp
          ? phaseOf(r.stderr)
          : `timed (${before === await fingerprint(c.dir) ? "before any write" : "mid-write"})`;
        if (phase) tally.phases[phase] = (tally.phases[phase] ?? 0) + 1;
      } else if (r.code === 0) {
        tally.finishedBeforeKill++;
      } else {
        problems.push(`the interrupted run failed on its own: ${describeRun(r)}`);
      }
      const after = await checkAuthFile(c.file, c.want, !r.killed);
      problems.push(...after.problems.map((p) => `after kill: ${p}`));
      tally.leftovers += after.leftovers.length;
      const again = await runCli(argsOf, { ...opts(c.file), timeoutMs: 60_000 });
      if (again.code !== 0) problems.push(`rerun: ${describeRun(again)}`);
      const final = await checkAuthFile(c.file, c.want, true);
      problems.push(...final.problems.map((p) => `after rerun: ${p}`));
      if (again.code !== 0 || final.problems.length) tally.dataLost++;
      else if (problems.length === 0) tally.recovered++;
      if (problems.length) failures.push(`${label}:\n    ${problems.join("\n    ")}`);
      await Deno.remove(c.dir, { recursive: true });
    }
  };

  const run = {
    "upgrade": () => updateCampaign("upgrade"),
    "load-archive": () => updateCampaign("load-archive"),
    "locks": lockCampaign,
    "login": loginCampaign,
  }[part];
  await run();

  const total = Object.values(tallies).reduce((a, b) => ({
    ...a,
    cases: a.cases + b.cases,
    killed: a.killed + b.killed,
    finishedBeforeKill: a.finishedBeforeKill + b.finishedBeforeKill,
    recovered: a.recovered + b.recovered,
    dataLost: a.dataLost + b.dataLost,
    leftovers: a.leftovers + b.leftovers,
    staleRecords: a.staleRecords + b.staleRecords,
    phases: Object.fromEntries(
      [...new Set([...Object.keys(a.phases), ...Object.keys(b.phases)])]
        .map((k) => [k, (a.phases[k] ?? 0) + (b.phases[k] ?? 0)]),
    ),
  }), newTally());

  const report = { seed: SEED, runsPerCommand: RUNS, part, total, commands: tallies };
  console.log(`crash safety (${part}): ${JSON.stringify(report)}`);
  const reportFile = Deno.env.get("DZ_CRASH_REPORT");
  if (reportFile) {
    await Deno.writeTextFile(
      reportFile.replace(/(\.json)?$/, `.${part}.json`),
      JSON.stringify(report, null, 2) + "\n",
    );
  }

  assert.deepEqual(failures, [], `${failures.length} crash case(s) failed`);
  assert.equal(total.dataLost, 0);
  assert.equal(total.recovered, total.cases);
  assert.ok(total.killed >= Math.floor(total.cases / 2), JSON.stringify(total));
}

/** Options of the crash test files (subprocesses and temp files outlive single ops). */
export const CRASH_TEST_OPTIONS = { sanitizeResources: false, sanitizeOps: false } as const;

/** The seed of this run (for test names). */
export const CRASH_SEED = SEED;
