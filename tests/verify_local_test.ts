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
import { OciLayout } from "../lib/oci/layout.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { sha256Digest } from "../lib/digest/digest.ts";

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
      ...lab.trustArgs,
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
    assert.equal(j.digest, d1);
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
    // A corrupt record (not JSON, or missing fields) is tampered local state too: refused, exit 1.
    for (const corrupt of ["{garbage", JSON.stringify({ ...doc, imageId: 7 })]) {
      await Deno.writeTextFile(recPath, corrupt);
      r = await vl("--json");
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /is corrupt/);
      assert.equal(JSON.parse(r.out).error.code, "LOCAL_STATE_TAMPERED");
    }
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
    // A corrupt rollback state is never read as absent: refused as tampered, exit 1.
    await Deno.writeTextFile(statePath, "{garbage");
    r = await vl("--json");
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /rollback state .* is corrupt/);
    assert.equal(JSON.parse(r.out).error.code, "LOCAL_STATE_TAMPERED");
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

Deno.test({
  name: "oci store: an overwritten layer blob fails verify-local, is never reused, is replaced",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const repo = "dz/blobs";
    const name = `${lab.reg.host}/${repo}:latest`;
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      `oci:${store}`,
      "--progress",
      "none",
    ];
    const files = { v: "shared", pad: "z".repeat(6000) };
    const v1 = await buildImage({ files });
    const d1 = await pushImage(lab.client, repo, v1, "latest");
    await lab.sign(repo, d1);
    assert.equal((await run(upgrade, [name, ...common])).code, 0);
    assert.equal((await run(verifyLocal, [name, ...common])).code, 0);

    // The attacker rewrites the layer in place (same size, other bytes).
    const layout = await OciLayout.open(store);
    const layer = v1.layers[0].descriptor;
    const evil = await Deno.readFile(layout.blobPath(layer.digest));
    evil[evil.length - 10] ^= 0x55;
    await Deno.writeFile(layout.blobPath(layer.digest), evil);
    let r = await run(verifyLocal, [name, ...common]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, new RegExp(`blob ${layer.digest}: content digest is`));

    // upgrade is not fooled into "Already up to date": it reinstalls the layer.
    r = await run(upgrade, [name, ...common, "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).status, "upgraded");
    assert.equal(sha256Digest(await Deno.readFile(layout.blobPath(layer.digest))), layer.digest);
    assert.equal((await run(verifyLocal, [name, ...common])).code, 0);

    // A new image sharing the layer does not reuse a rewritten copy of it.
    await Deno.writeFile(layout.blobPath(layer.digest), evil);
    const v2 = await buildImage({ files, labels: { v: "2" } });
    assert.equal(v2.layers[0].descriptor.digest, layer.digest);
    const d2 = await pushImage(lab.client, repo, v2, "latest");
    await lab.sign(repo, d2);
    r = await run(upgrade, [name, ...common, "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, d2);
    assert.equal(sha256Digest(await Deno.readFile(layout.blobPath(layer.digest))), layer.digest);
    r = await run(verifyLocal, [name, ...common, "--deep"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /content: +1 layer\(s\) re-read/);
  },
});
