/**
 * `verify-local` after `upgrade` into the embedded store: passes only when
 * the runtime's image, the recorded chain, the stored signatures and the
 * rollback state all agree.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../commands/upgrade.ts";
import { command as verifyLocal } from "../commands/verify-local.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { installedPath } from "../lib/update/installed.ts";
import { imageStatePath } from "../lib/store/rollback_state.ts";
import { repositoryOf } from "../lib/signatures/signed_identity.ts";

async function run(cmd: typeof upgrade, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "verify-local: passes after upgrade, fails on every kind of local tampering",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const name = `${lab.reg.host}/dz/local:latest`;
    const common = [
      "--key",
      lab.keyPath,
      "--trusted-root",
      lab.rootPath,
      "--data-dir",
      data,
      "--runtime",
      `oci:${store}`,
    ];
    const vl = (...extra: string[]) => run(verifyLocal, [name, ...common, ...extra]);

    // Nothing installed yet.
    let r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /no verified installation/);

    const d1 = await lab.push("dz/local", { v: "1" }, "latest");
    const i1 = await lab.sign("dz/local", d1);
    assert.equal((await run(upgrade, [name, ...common])).code, 0);
    r = await vl("--json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.signedDigest, d1);
    assert.equal(j.tlog[0].logIndex, i1);
    r = await vl();
    assert.match(r.out, /^Verified local image /);

    // A tampered record (another manifest) is caught by the hash chain.
    const recPath = installedPath(data, name);
    const rec = await Deno.readTextFile(recPath);
    const doc = JSON.parse(rec);
    const manifest = JSON.parse(atob(doc.manifest));
    manifest.annotations = { evil: "1" };
    await Deno.writeTextFile(
      recPath,
      JSON.stringify({ ...doc, manifest: btoa(JSON.stringify(manifest)) }),
    );
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /does not hash/);
    await Deno.writeTextFile(recPath, rec);
    assert.equal((await vl()).code, 0);

    // Stored signatures removed → refused.
    const sigPath = join(data, "signatures", lab.key.keyId, `${d1.slice(7)}.json`);
    const sigs = await Deno.readTextFile(sigPath);
    await Deno.remove(sigPath);
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /no stored signatures/);
    await Deno.writeTextFile(sigPath, sigs);

    // The rollback state says this digest was replaced on this machine → refused.
    const statePath = imageStatePath(data, repositoryOf(name)!);
    const state = await Deno.readTextFile(statePath);
    const s = JSON.parse(state);
    s.replaced = [d1];
    s.digest = `sha256:${"e".repeat(64)}`;
    await Deno.writeTextFile(statePath, JSON.stringify(s));
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /replaced on this machine/);
    await Deno.writeTextFile(statePath, state);
    assert.equal((await vl()).code, 0);

    // The image removed from the runtime → refused.
    const indexPath = join(store, "index.json");
    await Deno.writeTextFile(
      indexPath,
      JSON.stringify({ ...JSON.parse(await Deno.readTextFile(indexPath)), manifests: [] }),
    );
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /holds no image/);

    // A digest reference is a usage error.
    r = await run(verifyLocal, [`${lab.reg.host}/dz/local@${d1}`, ...common]);
    assert.equal(r.code, 2);
  },
});
