/**
 * The `intoto` 0.0.1 verification path (lib/signatures/intoto_tlog.ts) on the
 * real slsa-github-generator v1.4.0 attestation: each of its steps refuses
 * on its own, not only the log-body check that runs first.
 */
import assert from "node:assert/strict";
import { VerificationError } from "../errors/errors.ts";
import { openSource } from "../archive/open_source.ts";
import type { GlobalOptions } from "../config/options.ts";
import { hasIntotoV001Entry, verifyIntotoV001Attestation } from "../signatures/intoto_tlog.ts";
import type { CosignAttestation } from "../signatures/model.ts";
import { loadTrustedRoot, parseTrustedRoot } from "../trust/trusted_root.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { findAttestations } from "../image/discovery.ts";
import { provenanceIdentity } from "./policy.ts";

const ignore = testdataOrSkip("intoto 0.0.1 path");
const DIR = testdata("slsa-github-generator", "v1.4.0", "container_workflow_dispatch");

const GLOBAL: GlobalOptions = {
  dataDir: "/nonexistent",
  insecureRegistries: [],
  json: false,
  progressMode: "none",
  debug: false,
};

async function load() {
  const source = await openSource(`oci:${DIR}`, GLOBAL);
  const digest = (await source.resolve()).digest;
  const [found] = await findAttestations(source, digest);
  await source.close();
  assert.ok(found.ok);
  assert.ok(hasIntotoV001Entry(found.attestation));
  return { digest, att: found.attestation, envelope: found.envelope };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VerificationError, String(e));
    return e.code;
  }
  assert.fail("expected a VerificationError");
}

Deno.test({
  name: "intoto 0.0.1: verifies, and each step refuses on its own",
  ignore,
  async fn() {
    const { digest, att, envelope } = await load();
    const trustedRoot = await loadTrustedRoot();
    const opts = { trustedRoot, identity: provenanceIdentity(), subjectDigest: digest };
    const ok = verifyIntotoV001Attestation(att, envelope, opts);
    assert.equal(ok.tlog?.kind, "intoto");
    assert.equal(ok.tlog?.logIndex, 10957770);

    // DSSE signature: the logged bytes are intact, the verified envelope is not.
    const sig = att.envelope.signatures[0].sig.slice();
    sig[10] ^= 1;
    const badSig: CosignAttestation = {
      ...att,
      envelope: { ...att.envelope, signatures: [{ keyid: "", sig }] },
    };
    assert.equal(
      codeOf(() => verifyIntotoV001Attestation(badSig, envelope, opts)),
      "SIGNATURE_INVALID",
    );

    // Identity: another builder / issuer is refused.
    assert.equal(
      codeOf(() =>
        verifyIntotoV001Attestation(att, envelope, {
          ...opts,
          identity: {
            issuer: "https://token.actions.githubusercontent.com",
            subjectAlternativeName: "https://example.com/x",
          },
        })
      ),
      "IDENTITY_MISMATCH",
    );
    assert.equal(
      codeOf(() =>
        verifyIntotoV001Attestation(att, envelope, {
          ...opts,
          identity: { ...provenanceIdentity(), issuer: "https://accounts.google.com" },
        })
      ),
      "IDENTITY_MISMATCH",
    );

    // Fulcio chain: a root without the CAs.
    const noCa = parseTrustedRoot({ ...trustedRoot.json, certificateAuthorities: [] }, "test");
    assert.equal(
      codeOf(() => verifyIntotoV001Attestation(att, envelope, { ...opts, trustedRoot: noCa })),
      "CERTIFICATE_INVALID",
    );
    // Rekor key: a root without the log.
    const noLog = parseTrustedRoot({ ...trustedRoot.json, tlogs: [] }, "test");
    assert.equal(
      codeOf(() => verifyIntotoV001Attestation(att, envelope, { ...opts, trustedRoot: noLog })),
      "TLOG_INVALID",
    );
    // Subject.
    assert.equal(
      codeOf(() =>
        verifyIntotoV001Attestation(att, envelope, {
          ...opts,
          subjectDigest: `sha256:${"0".repeat(64)}`,
        })
      ),
      "SUBJECT_MISMATCH",
    );
    // Missing certificate / entry.
    assert.equal(
      codeOf(() => verifyIntotoV001Attestation({ ...att, certificate: undefined }, envelope, opts)),
      "CERTIFICATE_MISSING",
    );
    assert.equal(
      codeOf(() => verifyIntotoV001Attestation({ ...att, bundle: undefined }, envelope, opts)),
      "TLOG_MISSING",
    );
  },
});
