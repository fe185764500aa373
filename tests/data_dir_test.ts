/**
 * The data dir's local state, as real child processes against a real
 * registry, the local Rekor and an `oci:` store (issue 22 item 4, issue 16's
 * waiting line):
 *
 * - everything in it is private whatever the umask: directories 0700, files
 *   0600, under `umask 000` and `umask 022` — a real `upgrade`, then the
 *   stores' writers directly (signatures, bundles, install record, rollback
 *   state) and the lock while held;
 * - a lock whose pid now belongs to another live process is broken at once
 *   with one line; a lock held by a live process is waited for, saying who
 *   holds it, and taken when that process ends.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { type SigningLab, startSigningLab } from "./helpers/signed_images.ts";
import { processStartTime } from "../lib/store/lock_owner.ts";
import { runCli } from "./reliability/crash_support.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const linux = Deno.build.os === "linux";

/** `upgrade` of `repo` with data dir `data` into an `oci:` store named after it. */
function upgradeArgs(
  lab: Pick<SigningLab, "dir" | "reg" | "trustArgs">,
  repo: string,
  data: string,
  progress: "none" | "plain",
): string[] {
  return [
    "upgrade",
    `${lab.reg.host}/${repo}`,
    ...lab.trustArgs,
    "--data-dir",
    data,
    "--runtime",
    `oci:${join(lab.dir, `store-${data.replaceAll("/", "_")}`)}`,
    "--progress",
    progress,
  ];
}

/** `bash -c 'umask U; exec deno …'` in the project root. */
async function underUmask(umask: string, args: string[]) {
  const quoted = [Deno.execPath(), ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`);
  const out = await new Deno.Command("bash", {
    args: ["-c", `umask ${umask} && exec ${quoted.join(" ")}`],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

/** Every entry under `dir` (itself included) whose mode is not 0700 (dirs) / 0600 (files). */
async function wrongModes(dir: string): Promise<string[]> {
  const bad: string[] = [];
  const check = async (p: string) => {
    const st = await Deno.lstat(p);
    const want = st.isDirectory ? 0o700 : 0o600;
    const mode = st.mode! & 0o777;
    if (mode !== want) bad.push(`${relative(dir, p) || "."} ${mode.toString(8)}`);
    if (st.isDirectory) { for await (const e of Deno.readDir(p)) await check(join(p, e.name)); }
  };
  await check(dir);
  return bad;
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test({
  name: "data dir: directories 0700 and files 0600 under umask 000 and 022",
  ignore: !linux,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/modes";
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    const writer = "tests/helpers/data_dir_writer.ts";

    for (const umask of ["000", "022"]) {
      // A real upgrade into a fresh (nested) data dir.
      const data = join(lab.dir, `u${umask}`, "nested", "data");
      const up = await underUmask(umask, [
        "run",
        "--allow-all",
        "mod.ts",
        ...upgradeArgs(lab, repo, data, "none"),
      ]);
      assert.equal(up.code, 0, up.err);
      const files = await allFiles(data);
      assert.ok(files.some((f) => f.startsWith("signatures/") && f.endsWith(".json")), `${files}`);
      assert.ok(files.some((f) => f.startsWith("installed/")), `${files}`);
      assert.ok(files.some((f) => f.startsWith("rollback/")), `${files}`);
      assert.ok(files.includes("signatures/last_log_index"), `${files}`);
      assert.deepEqual(await wrongModes(data), [], `umask ${umask}: ${files}`);
      // Created by us, so private too: the parents the data dir needed.
      assert.deepEqual(await wrongModes(join(lab.dir, `u${umask}`)), [], `umask ${umask}`);

      // Each writer on its own, and the lock while it is held.
      const sigFile = files.find((f) => /^signatures\/[0-9a-f]{64}\/[0-9a-f]{64}\.json$/.test(f))!;
      const fresh = join(lab.dir, `w${umask}`, "data");
      const w = await underUmask(umask, ["run", "--allow-all", writer, fresh, join(data, sigFile)]);
      assert.equal(w.code, 0, w.err);
      assert.equal(w.out.trim(), "lock 600");
      const written = await allFiles(fresh);
      // signatures, bundles, record, rollback state, last_log_index and our note of it
      assert.equal(written.length, 6, `${written}`);
      assert.deepEqual(await wrongModes(join(lab.dir, `w${umask}`)), [], `umask ${umask}`);
    }
  },
});

function sleeper() {
  const child = new Deno.Command("sleep", { args: ["60"], stdin: "null", stdout: "null" }).spawn();
  return {
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

Deno.test({
  name: "upgrade: a reused-pid lock is broken with a line; a live holder is waited for and named",
  ignore: !linux,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/locked";
    await lab.sign(repo, await lab.push(repo, { v: "1" }, "latest"));
    const data = join(lab.dir, "data");
    const lock = join(data, "lock");
    await Deno.mkdir(data, { recursive: true });
    const upgrade = () => runCli(upgradeArgs(lab, repo, data, "plain"));
    const other = sleeper();
    try {
      const start = (await processStartTime(other.pid))!;
      const created = Date.parse("2024-03-01T00:00:00Z");
      const base = { pid: other.pid, host: Deno.hostname(), created };

      // A crashed run's lock; its pid is now `sleep` (another start time).
      await Deno.writeTextFile(
        lock,
        JSON.stringify({ ...base, nonce: "crashed", startTime: String(Number(start) + 1) }),
      );
      const t0 = Date.now();
      let r = await upgrade();
      const err = r.stderr;
      assert.equal(r.code, 0, err);
      assert.ok(Date.now() - t0 < 60_000);
      const broken = err.split("\n").filter((l) => l.includes(lock));
      assert.deepEqual(broken, [
        `removed stale lock ${lock}: taken by pid ${other.pid} at 2024-03-01T00:00:00Z; pid ${other.pid} is now another process`,
      ]);
      await assert.rejects(Deno.lstat(lock), Deno.errors.NotFound);

      // The same pid with its true start time: a live holder. Released when it ends.
      await Deno.writeTextFile(lock, JSON.stringify({ ...base, nonce: "live", startTime: start }));
      const running = upgrade();
      await new Promise((res) => setTimeout(res, 3000));
      await other.stop();
      r = await running;
      const lines = r.stderr.split("\n").filter((l) => l.includes(lock));
      assert.equal(r.code, 0, lines.join("\n"));
      assert.deepEqual(lines, [
        `waiting for ${lock} held by pid ${other.pid} since 2024-03-01T00:00:00Z`,
        `removed stale lock ${lock}: taken by pid ${other.pid} at 2024-03-01T00:00:00Z; pid ${other.pid} no longer runs`,
      ]);
      assert.match(r.stdout, /Already up to date/);
    } finally {
      await other.stop();
    }
  },
});
