/**
 * `upgrade` against a data dir whose lock was left behind (issue 22 item 4,
 * issue 16's waiting line), as real child processes: a lock whose pid now
 * belongs to another live process is broken at once with one line; a lock
 * held by a live process is waited for, saying who holds it, and taken when
 * that process ends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSigningLab } from "./helpers/signed_images.ts";
import { processStartTime } from "../lib/update/lock_owner.ts";

const ROOT = new URL("..", import.meta.url).pathname;

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
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/locked";
    await lab.sign(repo, await lab.push(repo, { v: "1" }, "latest"));
    const data = join(lab.dir, "data");
    const lock = join(data, "lock");
    await Deno.mkdir(data, { recursive: true });
    const upgrade = () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "mod.ts",
          "upgrade",
          `${lab.reg.host}/${repo}`,
          "--key",
          lab.keyPath,
          "--trusted-root",
          lab.rootPath,
          "--data-dir",
          data,
          "--runtime",
          `oci:${join(lab.dir, "store")}`,
          "--progress",
          "plain",
        ],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    const dec = new TextDecoder();
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
      const err = dec.decode(r.stderr);
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
      const lines = dec.decode(r.stderr).split("\n").filter((l) => l.includes(lock));
      assert.equal(r.code, 0, lines.join("\n"));
      assert.deepEqual(lines, [
        `waiting for ${lock} held by pid ${other.pid} since 2024-03-01T00:00:00Z`,
        `removed stale lock ${lock}: taken by pid ${other.pid} at 2024-03-01T00:00:00Z; pid ${other.pid} no longer runs`,
      ]);
      assert.match(dec.decode(r.stdout), /Already up to date/);
    } finally {
      await other.stop();
    }
  },
});
