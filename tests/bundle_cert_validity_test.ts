/**
 * A Fulcio certificate must be valid at the moment the transparency log
 * recorded the signature: a log whose clock runs an hour ahead (the
 * certificate has expired by then) or an hour behind (not yet valid) makes
 * an otherwise perfect keyless bundle fail.
 */
import assert from "node:assert/strict";
import { VerificationError } from "../lib/errors/errors.ts";
import { parseTrustedRoot } from "../lib/trust/trusted_root.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { bytesArtifact } from "../lib/bundle/artifact.ts";
import { verifyBundle } from "../lib/bundle/verify_bundle.ts";
import { fulcioLeaf, ISSUER, keyPair, messageBundle, SUBJECT } from "./helpers/bundle_fixtures.ts";

async function keylessBundleWithLogClock(offsetMs: number) {
  const ss = await startLocalSigstore({ clock: () => new Date(Date.now() + offsetMs) });
  try {
    const blob = new TextEncoder().encode(`logged at an offset of ${offsetMs} ms`);
    const kp = keyPair();
    const cert = await fulcioLeaf(ss, kp); // valid from now, for 10 minutes
    const bundle = await messageBundle(ss, blob, kp, cert);
    return { bundle, blob, root: parseTrustedRoot(ss.trustedRoot, "local") };
  } finally {
    await ss.close();
  }
}

const identity = { subjectAlternativeName: SUBJECT, issuer: ISSUER };

Deno.test("keyless: certificate valid at the integrated time verifies", async () => {
  const { bundle, blob, root } = await keylessBundleWithLogClock(0);
  const r = verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, identity });
  assert.equal(r.tlog.length, 1);
});

for (const [label, offset] of [["expired", 3600_000], ["not yet valid", -3600_000]] as const) {
  Deno.test(`keyless: certificate ${label} at the integrated time is refused`, async () => {
    const { bundle, blob, root } = await keylessBundleWithLogClock(offset);
    assert.throws(
      () => verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, identity }),
      (e) => e instanceof VerificationError && e.code === "CERTIFICATE_INVALID",
    );
  });
}
