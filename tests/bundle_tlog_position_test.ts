/**
 * Authenticated log positions of bundle entries (`tlog_position.ts`) with
 * real bundles from the loopback Rekor: the SET-covered time, a proof-only
 * entry's time read as 0, an entry whose index disagrees with its proof
 * refused, and a proof-only entry whose log key is no longer valid refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { KeyObjectSigner } from "../lib/keys/signer.ts";
import { cosignSignStatement } from "../lib/publish/bundle_sign.ts";
import { createDsseBundle } from "../lib/publish/bundle_builders.ts";
import { parseTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot, parseTrustedRoot } from "../lib/trust/trusted_root.ts";
import { VerificationError } from "../lib/errors/errors.ts";
import { digestArtifact } from "../lib/bundle/artifact.ts";
import { verifyBundle } from "../lib/bundle/verify_bundle.ts";
import crypto from "node:crypto";

const DIGEST = `sha256:${"ab".repeat(32)}`;

Deno.test({
  name: "bundle tlog positions: only what the SET or the inclusion proof authenticates",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sigstore = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    try {
      const rootPath = join(dir, "root.json");
      await sigstore.writeTrustedRoot(rootPath);
      const trustedRoot = await loadTrustedRoot(rootPath);
      const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
      const signer = new KeyObjectSigner(privateKey);
      const key = parseTrustedKey(new TextEncoder().encode(signer.publicKeyPem()), "k");
      const { bundle, rekor } = await createDsseBundle({
        payload: cosignSignStatement(DIGEST),
        signer,
        rekorUrl: sigstore.rekorUrl,
      });
      const verify = (b: unknown, root = trustedRoot) =>
        verifyBundle(b, digestArtifact(DIGEST), { trustedRoot: root, key });

      const ok = verify(bundle);
      assert.equal(ok.tlog[0].logIndex, String(rekor.logIndex));
      assert.equal(ok.tlog[0].integratedTime, rekor.integratedTime);

      type Entry = Record<string, unknown>;
      const entryOf = (b: unknown) =>
        (b as { verificationMaterial: { tlogEntries: Entry[] } }).verificationMaterial
          .tlogEntries[0];

      // Proof only: the index stands (the proof's), the integrated time is not authenticated.
      const proofOnly = structuredClone(bundle);
      delete entryOf(proofOnly).inclusionPromise;
      entryOf(proofOnly).integratedTime = "9000000000";
      const p = verify(proofOnly);
      assert.equal(p.tlog[0].logIndex, String(rekor.logIndex));
      assert.equal(p.tlog[0].integratedTime, 0);

      // The entry claims another index than its proof: invalid.
      const moved = structuredClone(proofOnly);
      entryOf(moved).logIndex = "9000000000";
      assert.throws(
        () => verify(moved),
        (e: unknown) =>
          e instanceof VerificationError && e.code === "TLOG_INVALID" &&
          /inclusion proof is for/.test(e.message),
      );

      // The log key expired yesterday: a proof-only entry is refused (the SET path checks
      // validity at the integrated time inside the library).
      const expired = structuredClone(sigstore.trustedRoot) as unknown as {
        tlogs: { publicKey: { validFor: Record<string, string> } }[];
      };
      expired.tlogs[0].publicKey.validFor.end = new Date(Date.now() - 86400_000).toISOString();
      const expiredRoot = parseTrustedRoot(expired, "expired");
      assert.throws(
        () => verify(proofOnly, expiredRoot),
        (e: unknown) => e instanceof VerificationError && /not valid at/.test(e.message),
      );

      // JSON null members (as protobuf JSON writers emit them) read as absent.
      const nulls = structuredClone(sigstore.trustedRoot) as unknown as {
        tlogs: { publicKey: { validFor: Record<string, string | null> } }[];
        timestampAuthorities?: unknown;
      };
      nulls.tlogs[0].publicKey.validFor.end = null;
      nulls.timestampAuthorities = null;
      assert.equal(verify(proofOnly, parseTrustedRoot(nulls, "nulls")).tlog.length, 1);
    } finally {
      await sigstore.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
