/**
 * Concurrency (issue 10): updates started at the same moment as separate
 * processes on one data dir and one `oci:` store are serialized by the lock
 * files and end in one consistent state:
 *
 * - two `upgrade`s of the same image (from scratch and over an installed
 *   older version): both exit 0, exactly one says "upgraded", the other "up
 *   to date"; `verify-local` passes; no lock is left;
 * - `upgrade` and `load-archive` of the same image: the same;
 * - `load-archive` of an OLDER image racing an `upgrade` to the newer one:
 *   whichever order the lock imposes, the newer image ends installed and
 *   verified (the older one is either replaced or refused as a rollback).
 *
 * `DZ_CONCURRENCY_ROUNDS=<n>` repeats each race more often (default 3).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../../commands/upgrade.ts";
import { command as verifyLocal } from "../../commands/verify-local.ts";
import { command as prepareArchive } from "../../commands/prepare-archive.ts";
import { startSigningLab } from "../helpers/signed_images.ts";
import { checkUpdateState, type CliRun, copyTree, countFromEnv, runCli } from "./crash_support.ts";

const ROUNDS = countFromEnv("DZ_CONCURRENCY_ROUNDS", 3);

const silent = { out: () => {}, err: () => {} };

function show(r: CliRun): string {
  return `exit ${r.code}${r.signal ? ` ${r.signal}` : ""}: ${(r.stderr + r.stdout).trim()}`;
}

function statusOf(r: CliRun): string {
  return JSON.parse(r.stdout).status;
}

Deno.test({
  name: "concurrency: racing upgrades / load-archive end in one consistent, verified state",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using lab = await startSigningLab();
    const repo = "dz/race";
    const imageName = `${lab.reg.host}/${repo}:latest`;
    const common = (dir: string) => [
      ...lab.trustArgs,
      "--data-dir",
      join(dir, "data"),
      "--runtime",
      `oci:${join(dir, "store")}`,
      "--progress",
      "none",
      "--json",
    ];
    const up = (dir: string) => ["upgrade", `${lab.reg.host}/${repo}`, ...common(dir)];
    const load = (dir: string, tar: string) => ["load-archive", tar, ...common(dir)];
    const prepare = async (tag: string) => {
      const tar = join(lab.dir, `${tag}.tar`);
      const args = ["--output", tar, imageName, "--key", lab.keyPath, "--trusted-root"];
      assert.equal(await prepareArchive.main([...args, lab.rootPath], silent), 0);
      return tar;
    };

    // v1 (installed in `base`, and archived), then v2 as the signed latest (archived too).
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    const tar1 = await prepare("v1");
    const base = join(lab.dir, "base");
    assert.equal(await upgrade.main(up(base).slice(1), silent), 0);
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    await lab.sign(repo, d2);
    const tar2 = await prepare("v2");

    /** The state in `dir` is v2, verified, consistent, without a lock. */
    const assertSettled = async (dir: string, what: string) => {
      const s = await checkUpdateState({
        dataDir: join(dir, "data"),
        storeDir: join(dir, "store"),
        keyId: lab.key.keyId,
        imageName,
      });
      assert.deepEqual(s.problems, [], what);
      assert.deepEqual(s.locks, [], `${what}: lock left behind`);
      assert.equal(s.recordDigest, d2, what);
      assert.equal(s.storeDigest, d2, what);
      assert.equal(s.staleRecord, false, what);
      const out: string[] = [];
      const code = await verifyLocal.main([imageName, ...common(dir)], {
        out: (x) => out.push(x),
        err: (x) => out.push(x),
      });
      assert.equal(code, 0, `${what}: verify-local: ${out.join("\n")}`);
      assert.equal(JSON.parse(out.join("")).digest, d2, what);
    };

    const caseDir = async (start: "fresh" | "baseline") => {
      const dir = await Deno.makeTempDir({ dir: lab.dir, prefix: "race-" });
      if (start === "baseline") await copyTree(base, dir);
      return dir;
    };

    await t.step("two upgrades of the same image at once", async () => {
      for (let i = 0; i < ROUNDS * 2; i++) {
        const start = i % 2 === 0 ? "fresh" : "baseline";
        const dir = await caseDir(start);
        const [a, b] = await Promise.all([runCli(up(dir)), runCli(up(dir))]);
        const what = `round ${i} (${start})`;
        assert.equal(a.code, 0, `${what}: ${show(a)}`);
        assert.equal(b.code, 0, `${what}: ${show(b)}`);
        assert.deepEqual([statusOf(a), statusOf(b)].sort(), ["up-to-date", "upgraded"], what);
        for (const r of [a, b]) assert.equal(JSON.parse(r.stdout).digest, d2, what);
        await assertSettled(dir, what);
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("upgrade and load-archive of the same image at once", async () => {
      for (let i = 0; i < ROUNDS * 2; i++) {
        const start = i % 2 === 0 ? "fresh" : "baseline";
        const dir = await caseDir(start);
        const [a, b] = await Promise.all([runCli(up(dir)), runCli(load(dir, tar2))]);
        const what = `round ${i} (${start})`;
        assert.equal(a.code, 0, `${what}: ${show(a)}`);
        assert.equal(b.code, 0, `${what}: ${show(b)}`);
        assert.deepEqual([statusOf(a), statusOf(b)].sort(), ["up-to-date", "upgraded"], what);
        await assertSettled(dir, what);
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("load-archive of an older image racing an upgrade to the newer", async () => {
      const orders = new Set<string>();
      for (let i = 0; i < ROUNDS * 2; i++) {
        const dir = await caseDir("fresh");
        const [a, b] = await Promise.all([runCli(up(dir)), runCli(load(dir, tar1))]);
        const what = `round ${i}`;
        assert.equal(a.code, 0, `${what}: upgrade ${show(a)}`);
        assert.equal(statusOf(a), "upgraded", what);
        if (b.code === 0) {
          // v1 went first; the upgrade then replaced it.
          assert.equal(JSON.parse(a.stdout).previousDigest, d1, what);
          orders.add("load first");
        } else {
          // v2 went first; v1 is a rollback, refused with nothing changed.
          assert.equal(b.code, 1, `${what}: load-archive ${show(b)}`);
          assert.match(b.stderr, /rollback/, what);
          orders.add("upgrade first");
        }
        await assertSettled(dir, what);
        await Deno.remove(dir, { recursive: true });
      }
      console.log(`orders seen: ${[...orders].join(", ")}`);
    });
  },
});
