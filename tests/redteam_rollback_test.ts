/**
 * Red-team findings on rollback protection, each built the way an attacker
 * who controls the registry (not the key) would, against docker-registry and
 * the loopback Rekor:
 *
 * 1. A replaced image comes back under another signed digest: Dangerzone's
 *    release signs the index AND each platform manifest (`sign --recursive`),
 *    so the attacker serves the old platform manifest's own digest. Rule 4
 *    ("a digest once replaced is never installed again") must hold for the
 *    image, whatever signed wrapper it comes in.
 * 2. Dangerzone's `last_log_index` inflated by what we write: a re-logged
 *    twin of the image being installed, logged after the vendor signed (and
 *    before it served) the next release. Dangerzone compares the largest index
 *    of an update's signatures with the file, so a value above the next
 *    release's entries freezes Dangerzone's updates.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { snapshot } from "./helpers/files.ts";
import { startAttackLab } from "./helpers/attacker.ts";
import { lastLogIndexPath } from "../lib/store/last_log_index.ts";
import { readImageState } from "../lib/store/rollback_state.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const setup = () => startAttackLab(["--platform", "linux/amd64"]);

Deno.test({
  ...opts,
  name:
    "redteam: a replaced image served as its separately signed platform manifest is refused (rule 4)",
  async fn() {
    const { lab, data, store, repo, up, twin } = await setup();
    await using _ = lab;
    // Two releases built from the same sources date (equal `created`), signed the
    // way Dangerzone's release does: the index and each platform manifest.
    const v1 = await lab.pushIndex(repo, { v: "1" }, "latest");
    await lab.sign(repo, v1.digest);
    await lab.sign(repo, v1.amd64Digest);
    let r = await up("--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, v1.digest);
    const v2 = await lab.pushIndex(repo, { v: "2" }, "latest");
    const i2 = await lab.sign(repo, v2.digest);
    await lab.sign(repo, v2.amd64Digest);
    r = await up("--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, v2.digest);
    const state = await readImageState(data, `${lab.reg.host}/${repo}`);
    assert.ok(state?.replaced.includes(v1.digest));

    // The attacker serves v1's amd64 manifest (its own signed digest), with the twin of
    // its public signature logged above v2's entries.
    const iTwin = await twin(v1.amd64Digest);
    assert.ok(iTwin > i2);
    await lab.retag(repo, v1.amd64Digest, "latest");
    const snap = await snapshot(data, store);
    r = await up();
    assert.equal(r.code, 1, `v1 was installed again over v2: ${r.out}`);
    assert.match(r.err, /replaced on this machine/);
    assert.deepEqual(await snapshot(data, store), snap);

    // The vendor's v2 platform manifest (the installed image itself) is no rollback.
    await lab.retag(repo, v2.amd64Digest, "latest");
    r = await up();
    assert.equal(r.code, 0, r.err);
  },
});

Deno.test({
  ...opts,
  name:
    "redteam: a twin logged after the next release was signed does not raise Dangerzone's last_log_index above it",
  async fn() {
    const { lab, data, up, repo, twin } = await setup();
    await using _ = lab;
    const d0 = await lab.push(repo, { v: "0" }, "latest", { created: "2025-01-01T00:00:00Z" });
    await lab.sign(repo, d0);
    assert.equal((await up()).code, 0);
    const d1 = await lab.push(repo, { v: "1" }, "latest", { created: "2025-02-01T00:00:00Z" });
    const i1 = await lab.sign(repo, d1);
    // The vendor signs v2 and is about to publish it; the attacker, still serving v1,
    // logs the twin of v1's public signature now: above v2's entry.
    const d2 = await lab.push(repo, { v: "2" }, undefined, { created: "2025-03-01T00:00:00Z" });
    const i2 = await lab.sign(repo, d2);
    const iTwin = await twin(d1);
    assert.ok(iTwin > i2 && i2 > i1);
    assert.equal((await up()).code, 0);

    // Dangerzone refuses an update whose largest log index is below the file: with
    // the twin's index there, v2 (and every release signed before the twin) is frozen.
    const written = Number(await Deno.readTextFile(lastLogIndexPath(data)));
    assert.ok(written <= i2, `last_log_index ${written} is above v2's entry ${i2}`);
    assert.equal(written, i1);
    // And this tool still follows: v2 installs.
    await lab.retag(repo, d2, "latest");
    assert.equal((await up()).code, 0);
  },
});

Deno.test({
  ...opts,
  // With no state of its own, the image the runtime holds is the baseline (its build time,
  // as the runtime reports it); Dangerzone's floor alone compares log indexes, which re-logging raises.
  name:
    "redteam: the first run after Dangerzone installed a newer image refuses an older one re-logged above Dangerzone's floor",
  async fn() {
    const { lab, data, store, repo, up, twin } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, undefined, { created: "2025-01-01T00:00:00Z" });
    await lab.sign(repo, d1);
    const d2 = await lab.push(repo, { v: "2" }, "latest", { created: "2025-06-01T00:00:00Z" });
    const i2 = await lab.sign(repo, d2);
    // Dangerzone installed v2: what it leaves is the image, signatures/ and last_log_index
    // (written by Dangerzone: no record of ours, no rollback state of ours).
    assert.equal((await up()).code, 0);
    await Deno.remove(join(data, "rollback"), { recursive: true });
    await Deno.remove(join(data, "installed"), { recursive: true });
    await Deno.writeTextFile(lastLogIndexPath(data), String(i2));

    // The attacker serves v1 with the twin of its public signature, above the floor.
    const iTwin = await twin(d1);
    assert.ok(iTwin > i2);
    await lab.retag(repo, d1, "latest");
    const snap = await snapshot(data, store);
    const r = await up();
    assert.equal(r.code, 1, `v1 was installed over Dangerzone's v2: ${r.out}`);
    assert.deepEqual(await snapshot(data, store), snap);
  },
});
