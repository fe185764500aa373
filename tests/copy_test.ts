/**
 * `copy SRC DST` between two real docker-registry instances: a multi-arch
 * index signed recursively, with an attestation image and a Sigstore
 * bundle referrer, is mirrored whole; `upgrade` from the mirror passes with
 * `--signed-identity <original repo>` and is refused without it. An
 * unsigned image, one signed by another key, and one whose blob was altered
 * at the source leave the mirror's storage exactly as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as copy } from "../commands/copy.ts";
import { command as upgrade } from "../commands/upgrade.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { signImageBundle } from "../lib/publish/bundle_sign.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startRegistry } from "./helpers/registry.ts";
import { snapshot } from "./helpers/files.ts";

type Cmd = typeof copy;
async function run(cmd: Cmd, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "copy: verified index, signatures, .att and bundle referrers to a second registry",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    await using mirror = await startRegistry();
    const mclient = new RegistryClient(mirror.host);
    try {
      const repo = "dz/app";
      const idx = await lab.pushIndex(repo, { v: "1" }, "latest");
      const arm64 = idx.arm64.manifestDescriptor.digest;
      // As Dangerzone's release does: the index and each platform manifest.
      for (const d of [idx.digest, idx.amd64Digest, arm64]) await lab.sign(repo, d);
      await signImageBundle({
        client: lab.client,
        repository: repo,
        digest: idx.digest,
        signer: lab.signer,
        rekorUrl: lab.rekorUrl,
        trustedRoot: lab.trustedRoot,
      });
      // An attestation image under cosign's .att tag.
      await pushImage(
        lab.client,
        repo,
        await buildImage({ files: { att: "attestation" } }),
        `sha256-${idx.digest.slice(7)}.att`,
      );
      const trust = [...lab.trustArgs, "--progress", "none"];

      const r = await run(copy, [
        `${lab.reg.host}/${repo}:latest`,
        `${mirror.host}/mirror/app`,
        ...trust,
        "--json",
      ]);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.digest, idx.digest);
      assert.equal(doc.manifests, 3);
      assert.equal(doc.signatures, 3);
      assert.equal(doc.attestations, 1);
      assert.equal(doc.bundles, 1);
      assert.equal(doc.verifiedSignatures, 2);
      assert.ok(doc.blobs.copied >= 4);

      // The mirror holds the same bytes under the same digests.
      assert.equal((await mclient.getManifest("mirror/app", "latest")).digest, idx.digest);
      for (const d of [idx.digest, idx.amd64Digest, arm64]) {
        const tag = `sha256-${d.slice(7)}.sig`;
        assert.equal(
          (await mclient.getManifest("mirror/app", tag)).digest,
          (await lab.client.getManifest(repo, tag)).digest,
        );
      }
      assert.ok(await mclient.headManifest("mirror/app", `sha256-${idx.digest.slice(7)}.att`));
      assert.equal((await mclient.referrers("mirror/app", idx.digest)).length, 1);

      // A second copy writes no blob again.
      const again = await run(copy, [
        `${lab.reg.host}/${repo}:latest`,
        `${mirror.host}/mirror/app`,
        ...trust,
        "--json",
      ]);
      assert.equal(again.code, 0, again.err);
      assert.equal(JSON.parse(again.out).blobs.copied, 0);

      // upgrade from the mirror: the .sig signatures name the original repository.
      // (A cosign v3 bundle names no repository, so this image has none.)
      const plain = await lab.pushIndex("dz/plain", { v: "p" }, "latest");
      for (const d of [plain.digest, plain.amd64Digest, plain.arm64.manifestDescriptor.digest]) {
        await lab.sign("dz/plain", d);
      }
      const cp = await run(copy, [
        `${lab.reg.host}/dz/plain`,
        `${mirror.host}/mirror/plain`,
        ...trust,
      ]);
      assert.equal(cp.code, 0, cp.err);
      const up = (data: string, ...extra: string[]) =>
        run(upgrade, [
          `${mirror.host}/mirror/plain`,
          ...trust,
          "--data-dir",
          join(lab.dir, data),
          "--runtime",
          `oci:${join(lab.dir, `${data}-store`)}`,
          ...extra,
        ]);
      const refused = await up("d1");
      assert.equal(refused.code, 1, refused.err);
      assert.match(refused.err, /made for .*dz\/plain/);
      assert.deepEqual([...(await snapshot(join(lab.dir, "d1-store"))).keys()], []);
      const ok = await up("d2", "--signed-identity", `${lab.reg.host}/dz/plain`, "--json");
      assert.equal(ok.code, 0, ok.err);
      assert.equal(JSON.parse(ok.out).digest, plain.digest);
      assert.equal(JSON.parse(ok.out).status, "upgraded");

      // Refusals write nothing to the mirror.
      const before = await snapshot(mirror.storageDir);
      const unsigned = await lab.pushIndex("dz/unsigned", { v: "u" }, "latest");
      const u = await run(copy, [
        `${lab.reg.host}/dz/unsigned`,
        `${mirror.host}/mirror/unsigned`,
        ...trust,
      ]);
      assert.equal(u.code, 1, u.err);
      assert.match(u.err, /no signatures/);
      await lab.sign("dz/unsigned", unsigned.digest, lab.otherSigner);
      const other = await run(copy, [
        `${lab.reg.host}/dz/unsigned`,
        `${mirror.host}/mirror/unsigned`,
        ...trust,
      ]);
      assert.equal(other.code, 1, other.err);
      assert.match(other.err, /verifies/);
      // Signed for another repository: refused unless --signed-identity says so.
      const renamed = await run(copy, [
        `${mirror.host}/mirror/plain`,
        `${mirror.host}/mirror/again`,
        ...trust,
      ]);
      assert.equal(renamed.code, 1, renamed.err);
      assert.deepEqual(await snapshot(mirror.storageDir), before);

      // A layer altered at the source after signing: the copy fails while streaming,
      // and neither the manifests naming it nor the tag reach the mirror.
      const bad = await lab.push("dz/bad", { big: "x".repeat(100_000) }, "latest");
      await lab.sign("dz/bad", bad);
      const layer = JSON.parse(
        new TextDecoder().decode((await lab.client.getManifest("dz/bad", bad)).bytes),
      ).layers[0];
      const file = lab.blobFile(layer.digest);
      const bytes = await Deno.readFile(file);
      bytes[bytes.length >> 1] ^= 0xff;
      await Deno.writeFile(file, bytes);
      const t = await run(copy, [`${lab.reg.host}/dz/bad`, `${mirror.host}/mirror/bad`, ...trust]);
      assert.notEqual(t.code, 0, t.err);
      assert.equal(await mclient.headManifest("mirror/bad", "latest"), undefined);
      assert.equal(await mclient.headManifest("mirror/bad", bad), undefined);
      assert.equal(await mclient.headBlob("mirror/bad", layer.digest), undefined);
    } finally {
      mclient.close();
    }
  },
});
