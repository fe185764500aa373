/**
 * Ctrl-C for real: SIGINT sent to a child `deno run -A mod.ts upgrade …` /
 * `load-archive …` at seeded random moments of a transfer slowed by a
 * metering proxy. Each run ends with exit 130 and one line (or, if the
 * signal came during the last step, completes); no partial or temporary
 * file is left anywhere but the resume area, no lock stays behind, and the
 * rerun fetches at most what was missing.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startBlobMeter } from "./helpers/blob_meter.ts";
import { pushBigImage } from "../bench/helpers/big_image.ts";
import { OciLayout } from "../lib/oci/layout.ts";
import { createRng } from "./reliability/prng.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MiB = 1024 * 1024;

/**
 * Start the CLI as a real process; `signalAfterMs` sends SIGINT that long
 * after the command has started working (its first line on stderr: by then
 * its signal handling is in place; before it, Deno's default action ends
 * the process, which a loaded machine can stretch past any fixed delay).
 */
async function cli(args: string[], signalAfterMs?: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(ROOT, "mod.ts"), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const dec = new TextDecoder();
  let err = "";
  const stdout = new Response(child.stdout).text();
  for await (const chunk of child.stderr) {
    if (err === "" && signalAfterMs !== undefined) {
      timer = setTimeout(() => {
        try {
          child.kill("SIGINT");
        } catch {
          // already ended
        }
      }, signalAfterMs);
    }
    err += dec.decode(chunk, { stream: true });
  }
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, out: await stdout, err };
}

/** Every path under `dir` (relative), recursively. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      out.push(rel);
      if (e.isDirectory) out.push(...await walk(join(dir, e.name), rel));
    }
  } catch {
    // absent
  }
  return out;
}

/** Files that must not survive an interrupt: temp files, staging dirs, locks. */
async function leftovers(...dirs: string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const d of dirs) {
    for (const p of await walk(d)) {
      if (p.startsWith("partial/") || p === "partial") continue;
      const name = p.split("/").pop()!;
      if (
        name.endsWith(".tmp") || name.startsWith("dz-podman-") || name.startsWith("archive-") ||
        name === "lock" || name.endsWith(".lock") || name.includes(".stale.")
      ) bad.push(`${d}/${p}`);
    }
  }
  return bad;
}

function checkInterrupted(r: { code: number; out: string; err: string }, when: number) {
  if (r.code === 0) return false; // the signal came during the last step: it completed
  assert.equal(r.code, 130, `at ${when} ms: exit ${r.code}\n${r.err}`);
  const lines = r.err.trim().split("\n").filter((l) => /interrupted/.test(l));
  assert.equal(lines.length, 1, r.err);
  assert.match(
    lines[0],
    /: interrupted; nothing was installed, (\d+\.\d|0|<0\.1) MiB kept to resume$/,
  );
  return true;
}

Deno.test({
  name: "interrupt: SIGINT at random moments of upgrade and load-archive (real processes)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/ctrlc";
    const big = await pushBigImage(lab.client, repo, "latest", { layerMiB: 3 });
    await lab.sign(repo, big.digest);
    const m = await lab.client.getManifest(repo, big.digest);
    const manifest = JSON.parse(new TextDecoder().decode(m.bytes)) as {
      config: { digest: string; size: number };
      layers: { digest: string; size: number }[];
    };
    const blobs = [manifest.config, ...manifest.layers];
    // About 2.5 s of transfer: long enough to be interrupted anywhere in it.
    await using meter = startBlobMeter(lab.reg.url, { rate: 5 * MiB });
    const rng = createRng(16);
    const trust = [...lab.trustArgs];

    for (let i = 0; i < 3; i++) {
      const data = join(lab.dir, `data-${i}`);
      const store = join(lab.dir, `store-${i}`);
      const args = [
        "upgrade",
        `${meter.host}/${repo}`,
        ...trust,
        ...["--data-dir", data, "--runtime", `oci:${store}`, "--progress", "plain"],
        ...["--signed-identity", `${lab.reg.host}/${repo}`],
      ];
      const when = 100 + Math.floor(rng.next() * 2500);
      const r = await cli(args, when);
      const interrupted = checkInterrupted(r, when);
      assert.deepEqual(await leftovers(data, store), [], `after SIGINT at ${when} ms`);
      if (!interrupted) continue;
      // What the rerun may fetch: each blob not in the store, less what the resume area kept.
      let missing = 0;
      const layout = await OciLayout.open(store).catch(() => undefined);
      for (const b of blobs) {
        if (await layout?.hasVerifiedBlob(b)) continue;
        const kept = await Deno.stat(join(data, "partial", b.digest.slice(7)))
          .then((s) => s.size, () => 0);
        missing += b.size - kept;
      }
      // Counted by request: a killed run's last response may still be winding down.
      const first = meter.requests.length;
      const image = new Set(blobs.map((b) => b.digest));
      const again = await cli(
        args.filter((a) => a !== "plain").map((a) => a === "--progress" ? "--json" : a),
      );
      assert.equal(again.code, 0, again.err);
      assert.equal(JSON.parse(again.out).status, "upgraded");
      const fetched = meter.requests.slice(first).filter((q) => image.has(q.digest))
        .reduce((n, q) => n + q.sent, 0);
      assert.ok(fetched <= missing, `at ${when} ms: rerun fetched ${fetched}, missing ${missing}`);
      assert.deepEqual(await leftovers(data, store), []);
      assert.deepEqual(await walk(join(data, "partial")), []);
    }

    // load-archive: an archive of the same image, interrupted while it is checked or unpacked.
    const archive = join(lab.dir, "ctrlc.tar");
    const prep = await cli([
      "prepare-archive",
      `${lab.reg.host}/${repo}`,
      ...trust,
      ...["--data-dir", join(lab.dir, "prep"), "--output", archive, "--progress", "none"],
    ]);
    assert.equal(prep.code, 0, prep.err);
    for (let i = 0; i < 3; i++) {
      const data = join(lab.dir, `load-${i}`);
      const store = join(lab.dir, `lstore-${i}`);
      const args = [
        "load-archive",
        archive,
        ...trust,
        ...["--data-dir", data, "--runtime", `oci:${store}`, "--progress", "plain"],
      ];
      const when = 50 + Math.floor(rng.next() * 1100);
      const r = await cli(args, when);
      checkInterrupted(r, when);
      assert.deepEqual(await leftovers(data, store), [], `after SIGINT at ${when} ms`);
      const again = await cli(args);
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(await leftovers(data, store), []);
    }
  },
});
