import { exitStatusOf } from "../cli/exit_codes.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { bundleToJSON, toMessageSignatureBundle } from "@sigstore/bundle";
import { UsageError, VerificationError } from "../errors/errors.ts";
import { parseTrustedRoot, publicGoodTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey, type TrustedKey } from "../trust/trusted_key.ts";
import { cosignAttestationToBundle } from "../signatures/bundle_convert.ts";
import { attestationFromLayer, cosignManifestLayers } from "../signatures/cosign_layers.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { bytesArtifact, digestArtifact } from "./artifact.ts";
import { verifyBundle } from "./verify_bundle.ts";
import {
  dsseBundle,
  fulcioLeaf,
  ISSUER,
  type KeyPair,
  keyPair,
  messageBundle,
  rekorV2HashedRekordOverDsse,
  startFixture,
  statementFor,
  SUBJECT,
} from "../../tests/helpers/bundle_fixtures.ts";

const enc = new TextEncoder();
const hexOf = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

function trustedKey(kp: KeyPair): TrustedKey {
  return parseTrustedKey(enc.encode(kp.pem), "test-key.pub");
}

function rejects(fn: () => unknown, code: string | RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof VerificationError, `expected a VerificationError, got ${e}`);
    if (typeof code === "string") assert.equal(e.code, code, e.message);
    else assert.match(e.code, code, e.message);
    return true;
  });
}

function flipByte(b: Uint8Array, i = 0): Uint8Array {
  const c = new Uint8Array(b);
  c[i] ^= 0x01;
  return c;
}

Deno.test("key: message-signature bundle verifies for the file and its sha256 digest", async () => {
  await using fx = await startFixture();
  const root = parseTrustedRoot(fx.ss.trustedRoot, "local");
  const kp = keyPair();
  const blob = enc.encode("hello, journalists\n");
  const bundle = await messageBundle(fx.ss, blob, kp);
  const key = trustedKey(kp);

  const r = verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, key });
  assert.equal(r.content, "messageSignature");
  assert.equal(r.signer.type, "key");
  assert.equal(r.tlog.length, 1);
  assert.equal(r.tlog[0].kind, "hashedrekord");
  assert.equal(r.tlog[0].kindVersion, "0.0.1");

  const d = verifyBundle(bundle, digestArtifact(`sha256:${hexOf(blob)}`), {
    trustedRoot: root,
    key,
  });
  assert.equal(d.content, "messageSignature");

  // one byte changed in the artifact
  rejects(
    () => verifyBundle(bundle, bytesArtifact(flipByte(blob)), { trustedRoot: root, key }),
    "DIGEST_MISMATCH",
  );
  // another digest
  rejects(
    () =>
      verifyBundle(bundle, digestArtifact(`sha256:${hexOf(flipByte(blob))}`), {
        trustedRoot: root,
        key,
      }),
    "DIGEST_MISMATCH",
  );
  // another key
  rejects(
    () =>
      verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, key: trustedKey(keyPair()) }),
    "SIGNATURE_INVALID",
  );
  // a tampered signature (still the right digest) is refused
  const tampered = structuredClone(bundle) as {
    messageSignature: { signature: string };
  };
  const sig = Buffer.from(tampered.messageSignature.signature, "base64");
  tampered.messageSignature.signature = Buffer.from(flipByte(sig, sig.length - 1)).toString(
    "base64",
  );
  rejects(() => verifyBundle(tampered, bytesArtifact(blob), { trustedRoot: root, key }), /./);
  rejects(
    () =>
      verifyBundle(tampered, digestArtifact(`sha256:${hexOf(blob)}`), { trustedRoot: root, key }),
    /./,
  );
  // a bundle whose messageDigest was changed to match another file
  const lying = structuredClone(bundle) as {
    messageSignature: { messageDigest: { digest: string } };
  };
  const other = enc.encode("other file");
  lying.messageSignature.messageDigest.digest = crypto.createHash("sha256").update(other)
    .digest("base64");
  rejects(() => verifyBundle(lying, bytesArtifact(other), { trustedRoot: root, key }), /./);
  rejects(
    () => verifyBundle(lying, digestArtifact(`sha256:${hexOf(other)}`), { trustedRoot: root, key }),
    /./,
  );
});

Deno.test("key: an RSA bundle verifies for the file; for a sha256 digest alone it is a usage error", async () => {
  // Rekor checks a hashedrekord's signature over the digest too; the stand-in cannot
  // for RSA (no hand-written PKCS#1), so this bundle is not logged and the root lists no log.
  await using fx = await startFixture();
  const root = parseTrustedRoot({ ...fx.ss.trustedRoot, tlogs: [] }, "local, no log");
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const key = parseTrustedKey(enc.encode(pem), "rsa.pub");
  assert.equal(key.keyType, "rsa");
  const blob = enc.encode("signed with an RSA key\n");
  const bundle = bundleToJSON(toMessageSignatureBundle({
    digest: crypto.createHash("sha256").update(blob).digest(),
    signature: crypto.sign("sha256", blob, privateKey),
    keyHint: "",
  }));
  const r = verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, key });
  assert.equal(r.content, "messageSignature");
  rejects(
    () => verifyBundle(bundle, bytesArtifact(flipByte(blob)), { trustedRoot: root, key }),
    "DIGEST_MISMATCH",
  );
  // Only the digest: an RSA (or Ed25519) signature cannot be checked from it without
  // hand-written PKCS#1 code; the user is told to pass the file (exit 2, cli.md).
  for (const digest of [hexOf(blob), hexOf(flipByte(blob))]) {
    assert.throws(
      () => verifyBundle(bundle, digestArtifact(`sha256:${digest}`), { trustedRoot: root, key }),
      (e) => {
        assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
        assert.equal(exitStatusOf(e), 2);
        assert.match(
          e.message,
          /^an RSA key cannot verify a signature from a sha256 digest alone$/,
        );
        assert.match(e.hint ?? "", /pass the artifact file instead/);
        return true;
      },
    );
  }
});

Deno.test("key: the transparency-log entry is required when the root lists a log, and checked", async () => {
  await using fx = await startFixture();
  const root = parseTrustedRoot(fx.ss.trustedRoot, "local");
  const kp = keyPair();
  const blob = enc.encode("artifact");
  const bundle = await messageBundle(fx.ss, blob, kp) as {
    mediaType: string;
    verificationMaterial: { tlogEntries: unknown[] };
  };
  const key = trustedKey(kp);
  const noLog = structuredClone(bundle);
  noLog.verificationMaterial.tlogEntries = [];
  rejects(
    () => verifyBundle(noLog, bytesArtifact(blob), { trustedRoot: root, key }),
    "TLOG_INVALID",
  );
  // a root with no transparency log at all: the trusted key alone decides
  const bare = parseTrustedRoot(
    { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1" },
    "bare",
  );
  assert.equal(
    verifyBundle(noLog, bytesArtifact(blob), { trustedRoot: bare, key }).content,
    "messageSignature",
  );
  rejects(
    () => verifyBundle(noLog, bytesArtifact(flipByte(blob)), { trustedRoot: bare, key }),
    /./,
  );
  // an entry from another stand-in's log is not trusted
  await using other = await startFixture();
  const foreign = await messageBundle(other.ss, blob, kp);
  rejects(
    () => verifyBundle(foreign, bytesArtifact(blob), { trustedRoot: root, key }),
    "TLOG_INVALID",
  );
});

Deno.test("keyless: exact identity and issuer verify; prefix, regex-like, other issuer are refused", async () => {
  await using fx = await startFixture();
  const root = parseTrustedRoot(fx.ss.trustedRoot, "local");
  const kp = keyPair();
  const cert = await fulcioLeaf(fx.ss, kp);
  const blob = enc.encode("keyless artifact");
  const bundle = await messageBundle(fx.ss, blob, kp, cert);
  const ok = verifyBundle(bundle, bytesArtifact(blob), {
    trustedRoot: root,
    identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
  });
  assert.deepEqual(ok.signer, {
    type: "certificate",
    subjectAlternativeName: SUBJECT,
    issuer: ISSUER,
  });
  assert.equal(
    verifyBundle(bundle, digestArtifact(`sha256:${hexOf(blob)}`), {
      trustedRoot: root,
      identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
    }).content,
    "messageSignature",
  );
  const bad = [
    { subjectAlternativeName: SUBJECT.slice(0, -1), issuer: ISSUER }, // prefix
    { subjectAlternativeName: SUBJECT.slice(1), issuer: ISSUER }, // suffix
    { subjectAlternativeName: SUBJECT.replaceAll(".", "?"), issuer: ISSUER }, // regex-like
    { subjectAlternativeName: ".*", issuer: ISSUER },
    { subjectAlternativeName: SUBJECT, issuer: "https://accounts.google.com" },
    { subjectAlternativeName: SUBJECT, issuer: `${ISSUER}/` },
  ];
  for (const identity of bad) {
    rejects(
      () => verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, identity }),
      "IDENTITY_MISMATCH",
    );
  }
  rejects(
    () =>
      verifyBundle(bundle, bytesArtifact(flipByte(blob)), {
        trustedRoot: root,
        identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
      }),
    "DIGEST_MISMATCH",
  );
  // a key was given, but the bundle is keyless: never fall back to the certificate
  rejects(
    () => verifyBundle(bundle, bytesArtifact(blob), { trustedRoot: root, key: trustedKey(kp) }),
    "SIGNER_MISMATCH",
  );
  // and an identity for a key-based bundle
  const keyed = await messageBundle(fx.ss, blob, kp);
  rejects(
    () =>
      verifyBundle(keyed, bytesArtifact(blob), {
        trustedRoot: root,
        identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
      }),
    "SIGNER_MISMATCH",
  );
  // a certificate from another CA is refused
  await using other = await startFixture();
  const foreignCert = await fulcioLeaf(other.ss, kp);
  const foreign = await messageBundle(fx.ss, blob, kp, foreignCert);
  rejects(
    () =>
      verifyBundle(foreign, bytesArtifact(blob), {
        trustedRoot: root,
        identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
      }),
    "CERTIFICATE_INVALID",
  );
});

Deno.test("dsse: the artifact must be a subject of a known in-toto statement", async () => {
  await using fx = await startFixture();
  const root = parseTrustedRoot(fx.ss.trustedRoot, "local");
  const kp = keyPair();
  const key = trustedKey(kp);
  const artifact = enc.encode("the attested thing");
  const bundle = await dsseBundle(fx.ss, statementFor(hexOf(artifact)), kp);

  const r = verifyBundle(bundle, bytesArtifact(artifact), { trustedRoot: root, key });
  assert.equal(r.content, "dsseEnvelope");
  assert.equal(r.tlog[0].kind, "dsse");
  assert.equal((r.statement?.subject as unknown[]).length, 1);
  verifyBundle(bundle, digestArtifact(`sha256:${hexOf(artifact)}`), { trustedRoot: root, key });

  rejects(
    () => verifyBundle(bundle, bytesArtifact(flipByte(artifact)), { trustedRoot: root, key }),
    "SUBJECT_MISMATCH",
  );
  rejects(
    () =>
      verifyBundle(bundle, digestArtifact(`sha256:${"0".repeat(64)}`), { trustedRoot: root, key }),
    "SUBJECT_MISMATCH",
  );
  for (const type of ["https://in-toto.io/Statement/v2", ""]) {
    const odd = await dsseBundle(fx.ss, statementFor(hexOf(artifact), type), kp);
    rejects(
      () => verifyBundle(odd, bytesArtifact(artifact), { trustedRoot: root, key }),
      "STATEMENT_INVALID",
    );
  }
  // keyless DSSE
  const cert = await fulcioLeaf(fx.ss, kp);
  const keyless = await dsseBundle(fx.ss, statementFor(hexOf(artifact)), kp, cert);
  const identity = { subjectAlternativeName: SUBJECT, issuer: ISSUER };
  verifyBundle(keyless, bytesArtifact(artifact), { trustedRoot: root, identity });
  rejects(
    () =>
      verifyBundle(keyless, bytesArtifact(artifact), {
        trustedRoot: root,
        identity: { ...identity, subjectAlternativeName: `${SUBJECT}x` },
      }),
    "IDENTITY_MISMATCH",
  );
});

Deno.test("rekor v2: hashedrekord 0.0.2 over a DSSE envelope (digest of the PAE) verifies", () => {
  const kp = keyPair();
  const key = trustedKey(kp);
  const artifact = enc.encode("rekor v2 artifact");
  const statement = statementFor(hexOf(artifact));
  const { bundle, trustedRoot } = rekorV2HashedRekordOverDsse(statement, kp);
  const root = parseTrustedRoot(trustedRoot, "v2");
  const r = verifyBundle(bundle, bytesArtifact(artifact), { trustedRoot: root, key });
  assert.deepEqual(
    r.tlog.map((t) => [t.kind, t.kindVersion, t.integratedTime]),
    [["hashedrekord", "0.0.2", 0]],
  );
  verifyBundle(bundle, digestArtifact(`sha256:${hexOf(artifact)}`), { trustedRoot: root, key });
  rejects(
    () => verifyBundle(bundle, bytesArtifact(flipByte(artifact)), { trustedRoot: root, key }),
    "SUBJECT_MISMATCH",
  );
});

Deno.test("rekor v2: hashedrekord-over-DSSE entries that do not match are refused", () => {
  const kp = keyPair();
  const key = trustedKey(kp);
  const artifact = enc.encode("rekor v2 artifact");
  const statement = statementFor(hexOf(artifact));
  const payloadDigest = new Uint8Array(crypto.createHash("sha256").update(statement).digest());
  const other = keyPair();
  const cases: [string, Parameters<typeof rekorV2HashedRekordOverDsse>[2]][] = [
    // the payload's digest instead of the PAE's
    ["payload digest", { digest: payloadDigest }],
    // a signature by another key
    ["other signature", {
      signature: new Uint8Array(crypto.sign("sha256", statement, other.privateKey)),
    }],
    // the right digest and signature, but the entry names another key: the
    // library does not look at the verifier; tlog_body.ts does
    ["other verifier", { spki: other.spki }],
  ];
  for (const [name, overrides] of cases) {
    const { bundle, trustedRoot } = rekorV2HashedRekordOverDsse(statement, kp, overrides);
    const root = parseTrustedRoot(trustedRoot, "v2");
    rejects(
      () => verifyBundle(bundle, bytesArtifact(artifact), { trustedRoot: root, key }),
      "TLOG_MISMATCH",
    );
    void name;
  }
  // an altered inclusion proof / a checkpoint from an untrusted log
  const { bundle, trustedRoot } = rekorV2HashedRekordOverDsse(statement, kp);
  const foreign = rekorV2HashedRekordOverDsse(statement, kp).trustedRoot;
  rejects(
    () =>
      verifyBundle(bundle, bytesArtifact(artifact), {
        trustedRoot: parseTrustedRoot(foreign, "foreign"),
        key,
      }),
    "TLOG_INVALID",
  );
  const broken = structuredClone(bundle) as {
    verificationMaterial: { tlogEntries: { inclusionProof: { hashes: string[] } }[] };
  };
  broken.verificationMaterial.tlogEntries[0].inclusionProof.hashes.reverse();
  rejects(
    () =>
      verifyBundle(broken, bytesArtifact(artifact), {
        trustedRoot: parseTrustedRoot(trustedRoot, "v2"),
        key,
      }),
    /TLOG_INVALID|NOT_VERIFIED/,
  );
});

// ---- real data: slsa-github-generator's keyless DSSE attestation as a v0.1 bundle

const SLSA = "slsa-github-generator";
const BUILDER =
  "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";

Deno.test("real data: a GitHub-built SLSA attestation verifies as a bundle for its image digest", {
  ignore: testdataOrSkip(SLSA),
}, () => {
  const layout = testdata(SLSA, "v1.10.0", "container_workflow_dispatch");
  const blob = (d: string) => Deno.readFileSync(`${layout}/blobs/sha256/${d.slice(7)}`);
  const index = JSON.parse(new TextDecoder().decode(Deno.readFileSync(`${layout}/index.json`)));
  const m = index.manifests.find((x: { annotations?: Record<string, string> }) =>
    x.annotations?.kind === "dev.cosignproject.cosign/atts"
  );
  const manifest = JSON.parse(new TextDecoder().decode(blob(m.digest)));
  const [layer] = cosignManifestLayers(manifest);
  const att = attestationFromLayer(blob(layer.digest), layer.annotations);
  const json = bundleToJSON(cosignAttestationToBundle(att, { certificate: att.certificate! }));
  const digest = Deno.readTextFileSync(`${layout}.digest`).trim();
  const trustedRoot = publicGoodTrustedRoot();
  const identity = {
    subjectAlternativeName: BUILDER,
    issuer: "https://token.actions.githubusercontent.com",
  };
  const r = verifyBundle(json, digestArtifact(digest), { trustedRoot, identity });
  assert.equal(r.signer.type, "certificate");
  assert.equal(r.tlog[0].kind, "dsse");
  rejects(
    () => verifyBundle(json, digestArtifact(`sha256:${"1".repeat(64)}`), { trustedRoot, identity }),
    "SUBJECT_MISMATCH",
  );
  rejects(
    () =>
      verifyBundle(json, digestArtifact(digest), {
        trustedRoot,
        identity: { ...identity, subjectAlternativeName: BUILDER.replace("v1.10.0", "v1.10") },
      }),
    "IDENTITY_MISMATCH",
  );
  // one byte of the signed payload changed
  const tampered = structuredClone(json) as { dsseEnvelope: { payload: string } };
  const payload = Buffer.from(tampered.dsseEnvelope.payload, "base64");
  tampered.dsseEnvelope.payload = Buffer.from(flipByte(payload, payload.length - 2)).toString(
    "base64",
  );
  rejects(() => verifyBundle(tampered, digestArtifact(digest), { trustedRoot, identity }), /./);
});

Deno.test("keyless: a forged bundle with an RSA certificate checked against a digest is refused (exit 1), not a usage error", async () => {
  // The attacker's bundle: a self-signed RSA certificate (no Fulcio chain) naming the
  // expected identity, and a signature over the digest. Its key type is the attacker's
  // choice, so it must not turn a refusal into "usage" (exit 2).
  const keys = await crypto.webcrypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const { X509CertificateGenerator, SubjectAlternativeNameExtension } = await import(
    "@peculiar/x509"
  );
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=forged",
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 3600_000),
    keys,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    extensions: [new SubjectAlternativeNameExtension([{ type: "email", value: SUBJECT }])],
  });
  const blob = enc.encode("forged\n");
  const privateKey = crypto.KeyObject.from(keys.privateKey);
  const bundle = bundleToJSON(toMessageSignatureBundle({
    digest: crypto.createHash("sha256").update(blob).digest(),
    signature: crypto.sign("sha256", blob, privateKey),
    certificate: Buffer.from(cert.rawData),
  }));
  await using fx = await startFixture();
  const root = parseTrustedRoot(fx.ss.trustedRoot, "local");
  assert.throws(
    () =>
      verifyBundle(bundle, digestArtifact(`sha256:${hexOf(blob)}`), {
        trustedRoot: root,
        identity: { subjectAlternativeName: SUBJECT, issuer: ISSUER },
      }),
    (e) => {
      assert.ok(e instanceof VerificationError, `expected a refusal, got ${e}`);
      assert.equal(exitStatusOf(e), 1);
      return true;
    },
  );
});
