/**
 * `applyVerifiedUpdate` and `verifyLocalImage` with both kinds of
 * signatures: legacy `.sig` signatures and cosign v3 bundles count
 * together, invalid bundles (another key, an SBOM statement) are dropped
 * and not stored, rollback positions come from both, and a crash between
 * the stores is repaired by the next run.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { join } from "node:path";
import { startRegistry } from "./helpers/registry.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { pushImage } from "./helpers/image_push.ts";
import { buildImage } from "./helpers/image_build.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { KeyObjectSigner } from "../lib/keys/signer.ts";
import { signImage } from "../lib/publish/sign_image.ts";
import {
  cosignSignStatement,
  pushBundleReferrer,
  signImageBundle,
} from "../lib/publish/bundle_sign.ts";
import { createDsseBundle } from "../lib/publish/bundle_builders.ts";
import { OciStoreRuntime } from "../lib/runtime/oci_store.ts";
import { readBundles, readSignatures } from "../lib/store/signature_store.ts";
import { readImageState } from "../lib/store/rollback_state.ts";
import { repositoryOf } from "../lib/signatures/signed_identity.ts";
import { parseTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { applyVerifiedUpdate } from "../lib/update/apply.ts";
import type { UpdateRequest } from "../lib/update/update_request.ts";
import { crashingRecords } from "./helpers/crash_records.ts";
import { verifyLocalImage } from "../lib/update/verify_local.ts";
import { readInstalled } from "../lib/update/installed.ts";
import { VerificationError } from "../lib/errors/errors.ts";
import { findBundles, findSignatures, requireWellFormed } from "../lib/image/discovery.ts";

function newSigner() {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  return new KeyObjectSigner(privateKey);
}

Deno.test({
  name: "applyVerifiedUpdate: legacy signatures and bundles together; bad bundles dropped",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using reg = await startRegistry();
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    const client = new RegistryClient(reg.host);
    try {
      await ss.writeTrustedRoot(join(dir, "root.json"));
      const trustedRoot = await loadTrustedRoot(join(dir, "root.json"));
      const signer = newSigner();
      const other = newSigner();
      const key = parseTrustedKey(new TextEncoder().encode(signer.publicKeyPem()), "trusted");
      const repo = "dz/mixed";
      const source = new RegistrySource(client, repo, { tag: "latest" });
      const dataDir = join(dir, "data");
      const request = async (digest: string): Promise<UpdateRequest> => ({
        source,
        imageName: `${reg.host}/${repo}:latest`,
        signedDigest: digest,
        signatures: requireWellFormed(await findSignatures(source, digest)).map((f) => f.signature),
        bundles: (await findBundles(source, digest)).flatMap((f) => f.ok ? [f.bundle] : []),
        key,
        trustedRoot,
        dataDir,
        runtime: new OciStoreRuntime(join(dir, "store")),
      });
      const sign = {
        legacy: (digest: string) =>
          signImage({
            client,
            repository: repo,
            digest,
            signer,
            rekorUrl: ss.rekorUrl,
            trustedRoot,
          }),
        bundle: (digest: string, s = signer) =>
          signImageBundle({
            client,
            repository: repo,
            digest,
            signer: s,
            rekorUrl: ss.rekorUrl,
            trustedRoot,
          }),
        sbom: async (digest: string) => {
          const { bundle } = await createDsseBundle({
            payload: cosignSignStatement(digest, "https://spdx.dev/Document"),
            signer,
            rekorUrl: ss.rekorUrl,
          });
          await pushBundleReferrer({ client, repository: repo, digest, bundle });
        },
      };

      const d1 = await pushImage(client, repo, await buildImage({ files: { v: "1" } }), "latest");
      const legacy = await sign.legacy(d1);
      await sign.bundle(d1, other); // another key: dropped
      await sign.sbom(d1); // not a signature: dropped
      const good = await sign.bundle(d1);
      const req = await request(d1);
      assert.equal(req.signatures.length, 1);
      assert.equal(req.bundles!.length, 3);
      const r = await applyVerifiedUpdate(req);
      assert.equal(r.status, "upgraded");
      assert.equal(r.verifiedSignatures, 2);
      assert.equal(r.verifiedBundles, 1);
      assert.deepEqual(
        r.tlog.map((t) => t.logIndex).sort((a, b) => a - b),
        [legacy.rekor!.logIndex, good.rekor.logIndex],
      );
      // Only the verified bundle is stored; the rollback state has the earliest position.
      assert.deepEqual(await readBundles(dataDir, key.keyId, d1), [good.bundle]);
      assert.equal((await readSignatures(dataDir, key.keyId, d1))?.length, 1);
      const state = await readImageState(dataDir, repositoryOf(req.imageName)!);
      assert.equal(
        Object.values(state!.logs)[0].logIndex,
        Math.min(legacy.rekor!.logIndex, good.rekor.logIndex),
      );
      const local = await verifyLocalImage(req);
      assert.equal(local.signatures, 2);
      assert.equal(local.bundles, 1);

      // Only bad bundles and no legacy signature: refused, nothing changes.
      const d2 = await pushImage(client, repo, await buildImage({ files: { v: "2" } }), "latest");
      await sign.bundle(d2, other);
      await sign.sbom(d2);
      await assert.rejects(applyVerifiedUpdate(await request(d2)), /none of the 2 signature/);
      assert.equal((await readInstalled(dataDir, req.imageName))?.signedDigest, d1);

      // A bundle-only v3; a crash after the stores: verify-local fails safe, the next run completes.
      const d3 = await pushImage(client, repo, await buildImage({ files: { v: "3" } }), "latest");
      await sign.bundle(d3);
      const req3 = await request(d3);
      await assert.rejects(
        applyVerifiedUpdate({ ...req3, records: crashingRecords("after-signatures") }),
        /simulated crash/,
      );
      assert.equal(await readSignatures(dataDir, key.keyId, d3), undefined);
      assert.equal((await readBundles(dataDir, key.keyId, d3))?.length, 1);
      await assert.rejects(verifyLocalImage(req3), VerificationError);
      const again = await applyVerifiedUpdate(req3);
      assert.equal(again.status, "upgraded");
      assert.equal(again.previousDigest, d1);
      assert.equal((await verifyLocalImage(req3)).signedDigest, d3);
      // Nothing given at all: refused even for the installed digest.
      await assert.rejects(
        applyVerifiedUpdate({ ...req3, signatures: [], bundles: [] }),
        /no signatures found/,
      );
      // The stored bundles alone (what `upgrade` passes when up to date) suffice.
      const cheap = await applyVerifiedUpdate({
        ...req3,
        signatures: [],
        bundles: await readBundles(dataDir, key.keyId, d3),
      });
      assert.equal(cheap.status, "up-to-date");
    } finally {
      client.close();
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
