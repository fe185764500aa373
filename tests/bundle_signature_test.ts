import assert from "node:assert/strict";
import crypto from "node:crypto";
import { join } from "node:path";
import { VerificationError } from "../lib/errors/errors.ts";
import { KeyObjectSigner } from "../lib/keys/signer.ts";
import { cosignSignStatement } from "../lib/publish/bundle_sign.ts";
import { createDsseBundle } from "../lib/publish/bundle_builders.ts";
import { keyPair, messageBundle } from "./helpers/bundle_fixtures.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { parseTrustedKey, type TrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  verifyBundleSignature,
  verifyBundleSignatures,
} from "../lib/signatures/bundle_signature.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER = `sha256:${"cd".repeat(32)}`;

function newSigner() {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new KeyObjectSigner(privateKey);
  const key: TrustedKey = parseTrustedKey(new TextEncoder().encode(signer.publicKeyPem()), "test");
  return { signer, key };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VerificationError, String(e));
    return e.code;
  }
  assert.fail("expected a refusal");
}

Deno.test({
  name: "verifyBundleSignature: a cosign v3 signature verifies; everything else is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    try {
      await ss.writeTrustedRoot(join(dir, "root.json"));
      const trustedRoot = await loadTrustedRoot(join(dir, "root.json"));
      const { signer, key } = newSigner();
      const other = newSigner();
      const opts = { trustedRoot, key };
      const make = async (payload: Uint8Array, payloadType?: string, s = signer) =>
        (await createDsseBundle({ payload, payloadType, signer: s, rekorUrl: ss.rekorUrl }))
          .bundle;

      // The real thing.
      const good = await make(cosignSignStatement(DIGEST));
      const v = verifyBundleSignature(good, DIGEST, opts);
      assert.equal(v.digest, DIGEST);
      assert.equal(v.tlog.kind, "dsse");
      assert.ok(Number.isSafeInteger(v.tlog.logIndex));
      assert.ok(v.tlog.integratedTime > 0);
      assert.deepEqual(v.signer, { type: "key", keyId: key.keyId, source: "test" });
      assert.equal(v.bundle, good);

      // For another digest: the statement does not name it.
      assert.equal(code(() => verifyBundleSignature(good, OTHER, opts)), "SUBJECT_MISMATCH");
      // Another key.
      assert.match(
        code(() => verifyBundleSignature(good, DIGEST, { trustedRoot, key: other.key })),
        /KEY_UNTRUSTED|SIGNATURE_INVALID|TLOG_MISMATCH/,
      );
      // An SBOM (or any other predicate) by the SAME trusted key is not a signature.
      const sbom = await make(cosignSignStatement(DIGEST, "https://spdx.dev/Document"));
      assert.equal(code(() => verifyBundleSignature(sbom, DIGEST, opts)), "PREDICATE_MISMATCH");
      const slsa = await make(cosignSignStatement(DIGEST, "https://slsa.dev/provenance/v1"));
      assert.equal(code(() => verifyBundleSignature(slsa, DIGEST, opts)), "PREDICATE_MISMATCH");
      // A predicate type that merely starts like the real one.
      const prefix = await make(cosignSignStatement(DIGEST, `${COSIGN_SIGN_PREDICATE_TYPE}/x`));
      assert.equal(code(() => verifyBundleSignature(prefix, DIGEST, opts)), "PREDICATE_MISMATCH");
      // A payload type other than in-toto.
      const raw = await make(cosignSignStatement(DIGEST), "application/json");
      assert.equal(code(() => verifyBundleSignature(raw, DIGEST, opts)), "STATEMENT_INVALID");
      // A message-signature bundle over the digest: does not say what was signed.
      const kp = keyPair();
      const blob = new TextEncoder().encode("some blob");
      const msg = await messageBundle(ss, blob, kp);
      const blobDigest = `sha256:${crypto.createHash("sha256").update(blob).digest("hex")}`;
      const msgKey = parseTrustedKey(new TextEncoder().encode(kp.pem), "kp");
      assert.equal(
        code(() => verifyBundleSignature(msg, blobDigest, { trustedRoot, key: msgKey })),
        "BUNDLE_NOT_DSSE",
      );
      // The payload swapped for another digest's statement: the signature fails.
      const swapped = structuredClone(good) as { dsseEnvelope: { payload: string } };
      swapped.dsseEnvelope.payload = btoa(
        new TextDecoder().decode(cosignSignStatement(OTHER)),
      );
      assert.match(
        code(() => verifyBundleSignature(swapped, OTHER, opts)),
        /SIGNATURE_INVALID|TLOG_MISMATCH|TLOG_INVALID/,
      );
      // No transparency-log entry.
      const noTlog = structuredClone(good) as {
        verificationMaterial: { tlogEntries: unknown[] };
      };
      noTlog.verificationMaterial.tlogEntries = [];
      assert.match(code(() => verifyBundleSignature(noTlog, DIGEST, opts)), /TLOG/);
      // Not a bundle at all.
      assert.equal(
        code(() => verifyBundleSignature({ x: 1 }, DIGEST, opts)),
        "SIGNATURE_MALFORMED",
      );

      // The list form keeps going past bad ones.
      const reports = verifyBundleSignatures([sbom, good, { x: 1 }], DIGEST, opts);
      assert.deepEqual(reports.map((r) => r.ok), [false, true, false]);
    } finally {
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
